"""The event types reports rely on, and the bus that fault threads and the event loop share."""

from __future__ import annotations

import typing

from chaosgate.engine.events import RunFinished, ScenarioFinished
from chaosgate.results import RunResult, ScenarioResult


def test_finish_events_carry_typed_results() -> None:
    assert typing.get_type_hints(ScenarioFinished)["result"] is ScenarioResult
    assert typing.get_type_hints(RunFinished)["result"] is RunResult
