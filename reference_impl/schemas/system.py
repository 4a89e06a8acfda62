"""Operational bodies: health, circuit breakers, offline queue."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reference_impl.errors import ErrorBody

BreakerStateName = Literal["closed", "open", "half_open"]
SubsystemState = Literal["healthy", "degraded", "failed"]
CapabilityState = Literal["available", "limited", "unavailable"]


class SubsystemStatus(BaseModel):
    """One dependency or internal component."""

    name: str
    status: SubsystemState
    detail: str | None
    circuit_breaker: BreakerStateName | None
    latency_ms: float | None
    recovery_eta_seconds: float | None


class CapabilityStatus(BaseModel):
    """One capability of the API and how well it works right now."""

    name: str
    status: CapabilityState
    reason: str | None


class HealthReport(BaseModel):
    """200: every subsystem is healthy."""

    status: Literal["healthy"]
    version: str
    checked_at: datetime
    uptime_seconds: float
    subsystems: list[SubsystemStatus]
    capabilities: list[CapabilityStatus]
    offline_queue_depth: int


class DegradedHealthReport(BaseModel):
    """503: at least one subsystem is degraded or failed; the capability matrix says what still works."""

    status: Literal["degraded"]
    version: str
    checked_at: datetime
    uptime_seconds: float
    subsystems: list[SubsystemStatus]
    capabilities: list[CapabilityStatus]
    offline_queue_depth: int
    error: ErrorBody


class CircuitBreakerStatus(BaseModel):
    """A circuit breaker's state and counters."""

    name: str
    state: BreakerStateName
    consecutive_failures: int
    failure_threshold: int
    reset_seconds: float
    retry_after_seconds: float
    total_failures: int
    total_successes: int
    rejected_calls: int
    times_opened: int
    last_failure: str | None
    last_failure_age_seconds: float | None


class CircuitBreakerList(BaseModel):
    breakers: list[CircuitBreakerStatus]


class QueueStatus(BaseModel):
    """The durable offline write queue."""

    depth: int = Field(description="Operations waiting for PostgreSQL.")
    oldest_age_seconds: float | None
    enqueued_total: int = Field(description="Accepted into the queue since this process started.")
    synced_total: int = Field(description="Committed to PostgreSQL since this process started.")
    syncing: bool = Field(description="True while the database is reachable and the queue drains.")
    event_outbox_depth: int = Field(description="Events waiting for Redis.")


class KillSwitchChange(BaseModel):
    """Engage or disengage the kill switch (admin)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    engaged: bool
    reason: str | None = Field(default=None, max_length=500, description="Why; shown to callers and audited.")


class KillSwitchState(BaseModel):
    """The kill switch as this process enforces it."""

    engaged: bool
    reason: str | None
    changed_by: str | None
    changed_at: datetime | None
    persisted: bool = Field(
        description="False while the change waits for PostgreSQL (it is enforced already)."
    )
    effect: str = Field(description="What the switch blocks while engaged.")
