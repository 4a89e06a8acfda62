"""``GET /api/v1/system/metrics`` bodies: real-time figures, collected figures, history."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class RealtimeMetrics(BaseModel):
    """Computed in-process at request time: always available, whatever the dependencies do."""

    requests_total: int
    server_errors_total: int
    error_rate: float = Field(description="Share of requests answered 5xx since start (0-1).")
    latency_p95_ms: float | None = Field(description="Over the most recent requests; null if not computable.")
    latency_p99_ms: float | None
    db_timeout_percentage: float = Field(description="PostgreSQL calls that hit their deadline, in %.")
    circuit_breakers: dict[str, Literal["closed", "open", "half_open"]]
    pii_blocked_total: int
    offline_queue_depth: int
    backpressure_events_total: int = Field(
        description="Writes queued instead of applied (offline, capacity)."
    )
    event_outbox_depth: int
    kill_switch_engaged: bool


class CollectedMetrics(BaseModel):
    """Figures the background collector reads from PostgreSQL; stale while collection lags."""

    agents_total: int
    agents_by_status: dict[str, int]
    tasks_by_status: dict[str, int]
    collected_at: datetime
    age_seconds: float = Field(description="Seconds since the collector last succeeded.")
    stale: bool = Field(description="True when the last collection is older than `max_age_seconds`.")
    max_age_seconds: float


class MetricsSample(BaseModel):
    """One point of the history kept in Redis (newest first)."""

    at: datetime
    requests_total: int
    error_rate: float
    latency_p95_ms: float | None
    offline_queue_depth: int
    agents_total: int | None


class HistoricalMetrics(BaseModel):
    """The history in Redis; disabled (not an error) while the metrics store is down."""

    available: bool
    reason: str | None = Field(description="Why the history is disabled, when it is.")
    samples: list[MetricsSample]


class MetricsReport(BaseModel):
    """200 complete (possibly real-time only or stale); 206 when some figures could not be calculated."""

    status: Literal["complete", "partial"]
    mode: Literal["full", "realtime_only"] = Field(
        description="`realtime_only` while the metrics store (Redis) is down: history disabled."
    )
    generated_at: datetime
    realtime: RealtimeMetrics
    collected: CollectedMetrics | None = Field(description="Null until the collector succeeded once.")
    historical: HistoricalMetrics
    warnings: list[str]
