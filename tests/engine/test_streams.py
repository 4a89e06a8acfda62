"""Stream checks (R5.1) against a small resumable event stream behind Toxiproxy."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosgate.engine.streams import Delivery, StreamLog
from chaosgate.ports import free_port
from chaosgate.processes import ManagedProcess
from tests.engine.conftest import RELAXED_SLA, Workspace

EVENTS = Path(__file__).resolve().parents[1] / "support" / "demo_events.py"


def log_of(sequences: list[int], first: int = 0, head: int | None = None) -> StreamLog:
    log = StreamLog(
        deliveries=[Delivery(i * 0.1, s, "tick") for i, s in enumerate(sequences)], first_cursor=first
    )
    log.head = head if head is not None else max(sequences)
    return log


def test_a_perfect_replay() -> None:
    metrics = log_of([1, 2, 3, 4]).metrics(["tick"])
    assert metrics["lost"] == metrics["duplicated"] == metrics["reordered"] == metrics["unexpected"] == 0
    assert metrics["replay_accuracy"] == 1.0


def test_loss_duplicates_and_reordering_are_counted() -> None:
    metrics = log_of([1, 2, 2, 4, 3, 6], head=7).metrics([])
    assert metrics["lost"] == 2  # 5 and 7
    assert metrics["duplicated"] == 1
    assert metrics["reordered"] == 1  # 3 after 4
    assert metrics["replay_accuracy"] == pytest.approx(
        3 / 7
    )  # 1, 4, 6 exactly once and in order... and 2? no: twice


def test_unexpected_types_and_sequences() -> None:
    log = log_of([1, 2, 3], head=2)
    log.deliveries[1].event_type = "other"
    metrics = log.metrics(["tick"])
    assert metrics["unexpected"] == 2  # the wrong type, and 3 beyond the head


def test_a_break_that_never_ends_has_no_reconnect_time() -> None:
    log = log_of([1])
    log.outages = [(1.0, 2.5), (3.0, None)]
    assert log.metrics([])["reconnect"] is None
    log.outages = [(1.0, 2.5), (3.0, 3.2)]
    assert log.metrics([])["reconnect"] == pytest.approx(1.5)


@pytest.fixture
def events_service(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with ManagedProcess("events", [sys.executable, str(EVENTS), str(port)], port=port, log_dir=tmp_path):
        yield f"http://127.0.0.1:{port}"


def stream_scenario() -> dict[str, Any]:
    return {
        "id": "events-outage",
        "title": "a stream outage loses nothing",
        "category": "websocket",
        "target": "events",
        "steady_state": [{"request": {"path": "/health"}, "expect": {"status": 200}}],
        "streams": [{"name": "events", "path": "/events", "events": ["tick"]}],
        "faults": [
            {
                "name": "outage",
                "injector": "toxiproxy",
                "proxy": "api",
                "down": True,
                "at": "1500ms",
                "for": "2s",
            }
        ],
        "observe": "2s",
        "expect": {
            "after": [
                {"metric": "lost == 0", "of": "events", "critical": True},
                {"metric": "duplicated == 0", "of": "events"},
                {"metric": "reordered == 0", "of": "events"},
                {"metric": "replay_accuracy == 100%", "of": "events", "critical": True},
                {"metric": "reconnect <= 10s", "of": "events"},
            ]
        },
        "sla": RELAXED_SLA,
    }


def test_an_outage_is_replayed_exactly_once_in_order(workspace: Workspace, events_service: str) -> None:
    workspace.target("events", kind="url", base_url=events_service, toxiproxy_url=workspace.toxiproxy_url)
    path = workspace.scenario("events", stream_scenario())
    result = workspace.run("run", str(path), "--out", "out")
    (scenario,) = workspace.results()["scenarios"]
    stream = scenario["streams"]["events"]
    assert stream["outages"] >= 1, stream
    assert stream["events"] >= 40
    assert stream["lost"] == 0
    assert stream["replay_accuracy"] == 1.0
    assert 1.5 <= stream["reconnect"] <= 10
    failed = [e for e in scenario["expectations"] if e["applicable"] and not e["passed"]]
    assert [e["id"] for e in failed] == [], result.stderr
    assert result.returncode == 0, (result.stderr, workspace.results()["verdict"])


def test_listed_event_types_that_never_arrived_are_counted() -> None:
    log = log_of([1, 2, 3])
    log.deliveries[2].event_type = "tock"
    assert log.metrics(["tick", "tock", "boom"])["missing_types"] == 1  # boom
    assert log.metrics(["tick", "tock"])["missing_types"] == 0
    assert log.metrics([])["missing_types"] == 0
