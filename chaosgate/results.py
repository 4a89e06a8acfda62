"""The results of a run: what results.json holds, as frozen, versioned models (R7.2).

Every report is rendered from these objects; the JSON Schema of
``results.json`` is generated from them (``chaosgate schema --results``) and
committed at ``chaosgate/schemas/results.schema.json``. The version in
`RESULTS_SCHEMA` changes whenever a field is removed or changes meaning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RESULTS_SCHEMA = "chaosgate.results/1"

Status = Literal["passed", "failed", "aborted", "error"]
WindowName = Literal["before", "during", "after", "steady", "run"]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExpectationResult(Record):
    """One judged expectation (or SLA gate): passed or not, what was measured, and why."""

    id: str = Field(description="Stable within the scenario, e.g. `during[0]` or `sla:p95`.")
    kind: Literal["request", "metric", "check", "sla", "steady_state"]
    window: str
    name: str
    weight: float
    critical: bool
    passed: bool
    applicable: bool = Field(
        default=True,
        description="False when nothing in scope could be measured, or the gate is waived (SLA gates).",
    )
    waived: bool = Field(
        default=False, description="An SLA gate the scenario waives (`sla.waive`): not judged, not counted."
    )
    measured: str | None = Field(default=None, description="The measured value in the threshold's unit.")
    measured_value: float | None = None
    threshold: str | None = None
    reason: str = ""
    samples: int = 0


class FaultTimeline(Record):
    name: str
    injector: str
    description: str
    planned_at: float
    planned_for: float
    inject_started: float | None = Field(default=None, description="When the inject call began.")
    injected_at: float | None = Field(description="When the inject call returned.")
    reverted_at: float | None
    error: str | None = None
    revert_error: str | None = None
    detect: float | None = Field(
        default=None, description="Seconds from injection to the first deviating sample."
    )
    recover: float | None = Field(default=None, description="Seconds from revert to the first steady sample.")


class SeriesPoint(Record):
    """Per-second aggregate of one scenario's HTTP samples, for the timeline charts."""

    t: float
    requests: int
    errors: int
    p50: float | None
    p95: float | None
    p99: float | None


class FailingSample(Record):
    source: str
    request: str
    t: float
    status: int
    latency: float
    reason: str
    curl: str | None = None
    response_headers: dict[str, str] = Field(default_factory=dict)
    response_body: str | None = None


class ScenarioResult(Record):
    id: str
    title: str
    category: str
    weight: float
    file: str
    status: Status
    score: float
    grade: str
    duration: float
    reason: str = ""
    settle_seconds: float | None = Field(
        default=None,
        description="Seconds the suite waited before this scenario for the target to be ready again.",
    )
    expectations: list[ExpectationResult] = Field(default_factory=list)
    faults: list[FaultTimeline] = Field(default_factory=list)
    windows: dict[str, list[tuple[float, float]]] = Field(default_factory=dict)
    series: list[SeriesPoint] = Field(default_factory=list)
    failing_samples: list[FailingSample] = Field(default_factory=list)
    sample_counts: dict[str, int] = Field(default_factory=dict)
    streams: dict[str, dict[str, float | None]] = Field(
        default_factory=dict,
        description="Per WebSocket stream: lost, duplicated, reordered, replay_accuracy, ...",
    )
    latency: dict[str, dict[str, float | None]] = Field(
        default_factory=dict,
        description="Per window (before, during, after, steady, run): p50, p95, p99 in seconds over the "
        "samples metrics are judged on; what baselines compare and trends follow.",
    )


class Verdict(Record):
    decision: Literal["go", "no-go"]
    exit_code: int
    reasons: list[str]


class RunResult(Record):
    schema_: str = Field(default=RESULTS_SCHEMA, alias="schema")
    run_id: str
    started_at: str
    finished_at: str
    duration: float
    sla_profile: str
    min_score: float
    score: float
    grade: str
    categories: dict[str, float]
    verdict: Verdict
    scenarios: list[ScenarioResult]


COMMITTED_RESULTS_SCHEMA = Path(__file__).resolve().parent / "schemas" / "results.schema.json"


def results_schema_text() -> str:
    """The JSON Schema of results.json, exactly as committed."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://chaosgate.dev/schemas/results.schema.json",
        **RunResult.model_json_schema(by_alias=True, mode="serialization"),
    }
    return json.dumps(schema, indent=2) + "\n"
