"""``/api/v1/system``: health with a capability matrix, circuit breakers, the offline queue.

These endpoints need no authentication: they are what load balancers,
operators and chaos probes poll, and they reveal no data.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from reference_impl import __version__, kill_switch, system_metrics
from reference_impl.auth import Admin, Viewer
from reference_impl.breakers import BreakerState, CircuitBreaker
from reference_impl.capabilities import SubsystemHealth, capabilities
from reference_impl.chaos import Fault
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import (
    ErrorBody,
    ErrorCategory,
    FunctionalityMatrix,
    RecoveryOption,
    error_responses,
    new_incident_id,
)
from reference_impl.guards import Guarded
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.schemas.metrics import MetricsReport
from reference_impl.schemas.system import (
    CapabilityStatus,
    CircuitBreakerList,
    CircuitBreakerStatus,
    DegradedHealthReport,
    HealthReport,
    KillSwitchChange,
    KillSwitchState,
    QueueStatus,
    SubsystemStatus,
)

router = APIRouter(prefix="/api/v1/system", tags=["system"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the next recovery probe is expected to succeed.",
        "schema": {"type": "integer", "minimum": 0},
        "required": True,
    }
}


async def _check(name: str, ping: Callable[[], Awaitable[None]], breaker: CircuitBreaker) -> SubsystemStatus:
    """Ping a dependency through its breaker and classify the answer."""
    started = time.perf_counter()
    try:
        await ping()
    except DependencyUnavailable as exc:
        failed = breaker.state is BreakerState.OPEN
        eta = breaker.retry_after() if failed else breaker.reset_seconds
        return SubsystemStatus(
            name=name,
            status="failed" if failed else "degraded",
            detail=exc.reason,
            circuit_breaker=breaker.state.value,
            latency_ms=None,
            recovery_eta_seconds=round(eta, 3),
        )
    latency = round((time.perf_counter() - started) * 1000, 3)
    return SubsystemStatus(
        name=name,
        status="healthy",
        detail=None,
        circuit_breaker=breaker.state.value,
        latency_ms=latency,
        recovery_eta_seconds=None,
    )


@router.get(
    "/health",
    response_model=HealthReport,
    summary="Health with a capability matrix",
    responses={
        503: {
            "model": DegradedHealthReport,
            "headers": RETRY_AFTER,
            "description": "Degraded: which subsystems failed, what still works, recovery ETAs.",
        },
        **error_responses(),
    },
)
async def health(runtime: RuntimeDep) -> Any:
    """200 when every subsystem is healthy; 503 `degraded` with the capability matrix otherwise."""
    database, redis = await asyncio.gather(
        _check("postgresql", runtime.db.ping, runtime.db.breaker),
        _check("redis", runtime.redis.ping, runtime.redis.breaker),
    )
    depth, oldest = runtime.queue.stats()
    queue = _queue_status(runtime, database, depth, oldest)
    events = _event_log_status(runtime, redis)
    integrity = runtime.integrity
    corruption = runtime.chaos.active(Fault.STORAGE_CORRUPTION)
    storage = SubsystemStatus(
        name="storage_integrity",
        status="failed" if integrity.blocked else "healthy",
        detail=f"writes blocked after corruption (incident {integrity.incident_id})"
        if integrity.blocked
        else None,
        circuit_breaker=None,
        latency_ms=None,
        recovery_eta_seconds=(
            round((corruption.remaining() if corruption else 0.0) + runtime.settings.sync_interval, 3)
            if integrity.blocked
            else None
        ),
    )
    subsystems = [database, redis, queue, events, storage]
    matrix = [
        CapabilityStatus(name=cap.name, status=cap.level.value, reason=cap.reason)
        for cap in capabilities(
            SubsystemHealth(database.status), SubsystemHealth(redis.status), writes_blocked=integrity.blocked
        )
    ]
    common: dict[str, Any] = {
        "version": __version__,
        "checked_at": datetime.now(UTC),
        "uptime_seconds": round(time.time() - runtime.started_at, 3),
        "subsystems": subsystems,
        "capabilities": matrix,
        "offline_queue_depth": depth,
    }
    unhealthy = [item for item in subsystems if item.status != "healthy"]
    if not unhealthy:
        return HealthReport(status="healthy", **common)
    eta = (
        max((item.recovery_eta_seconds or 0.0) for item in unhealthy)
        or runtime.settings.breaker_reset_seconds
    )
    failed_dependency = any(item.status == "failed" for item in (database, redis))
    error = ErrorBody(
        category=ErrorCategory.EXTERNAL_DEPENDENCY,
        code="degraded",
        incident_id=new_incident_id(),
        message="degraded: " + ", ".join(f"{item.name} {item.status}" for item in unhealthy),
        recovery_options=[
            RecoveryOption(
                action="use_available_capabilities",
                success_probability=0.9 if not failed_dependency else 0.7,
                description="Capabilities marked available or limited keep working; recovery is automatic.",
            )
        ],
        functionality=_matrix_of(matrix),
        eta_seconds=round(eta, 3),
        occurred_at=datetime.now(UTC),
    )
    report = DegradedHealthReport(status="degraded", error=error, **common)
    return JSONResponse(
        report.model_dump(mode="json"), status_code=503, headers={"Retry-After": str(max(1, math.ceil(eta)))}
    )


# A backlog is normal for an instant under write load: the sync loop and the event drain run right
# behind the requests. Health degrades only when the backlog has a cause (its dependency is not
# healthy) or has stopped moving (its oldest entry waited longer than this).
OUTBOX_STALL_SECONDS = 2.0
QUEUE_STALL_MIN_SECONDS = 2.0
QUEUE_STALL_SYNC_ROUNDS = 4


def queue_stall_seconds(runtime: Runtime) -> float:
    """How long the oldest queued write may wait while PostgreSQL is healthy before health degrades."""
    return max(QUEUE_STALL_MIN_SECONDS, QUEUE_STALL_SYNC_ROUNDS * runtime.settings.sync_interval)


def _queue_status(
    runtime: Runtime, database: SubsystemStatus, depth: int, oldest: float | None
) -> SubsystemStatus:
    """The offline queue is degraded while it holds writes that PostgreSQL cannot take (yet)."""
    age = oldest or 0.0
    degraded = depth > 0 and (database.status != "healthy" or age > queue_stall_seconds(runtime))
    return SubsystemStatus(
        name="offline_queue",
        status="degraded" if degraded else "healthy",
        detail=f"{depth} operations waiting for PostgreSQL (oldest {age:.1f}s)" if degraded else None,
        circuit_breaker=None,
        latency_ms=None,
        recovery_eta_seconds=(database.recovery_eta_seconds or runtime.settings.sync_interval)
        if degraded
        else None,
    )


def _event_log_status(runtime: Runtime, redis: SubsystemStatus) -> SubsystemStatus:
    """The event log is degraded while events wait for a Redis that is not healthy, or stall."""
    outbox = runtime.events.outbox_depth
    age = runtime.events.outbox_age() or 0.0
    degraded = outbox > 0 and (
        redis.status != "healthy"
        or runtime.redis.breaker.state is not BreakerState.CLOSED
        or age > OUTBOX_STALL_SECONDS
    )
    return SubsystemStatus(
        name="event_log",
        status="degraded" if degraded else "healthy",
        detail=f"{outbox} events buffered until Redis takes them (oldest {age:.1f}s)" if degraded else None,
        circuit_breaker=None,
        latency_ms=None,
        recovery_eta_seconds=(redis.recovery_eta_seconds or runtime.settings.breaker_reset_seconds)
        if degraded
        else None,
    )


def _matrix_of(matrix: list[CapabilityStatus]) -> FunctionalityMatrix:
    """The envelope's matrix from the capability list just computed."""
    return FunctionalityMatrix(
        available=[c.name for c in matrix if c.status == "available"],
        limited=[c.name for c in matrix if c.status == "limited"],
        unavailable=[c.name for c in matrix if c.status == "unavailable"],
    )


@router.get(
    "/circuit-breakers",
    response_model=CircuitBreakerList,
    summary="Circuit-breaker states",
    responses=error_responses(),
)
async def circuit_breakers(runtime: RuntimeDep) -> CircuitBreakerList:
    """State and counters of the PostgreSQL and Redis breakers."""
    items = []
    for breaker in runtime.breakers:
        snap = breaker.snapshot()
        items.append(
            CircuitBreakerStatus(
                name=snap.name,
                state=snap.state.value,
                consecutive_failures=snap.consecutive_failures,
                failure_threshold=snap.failure_threshold,
                reset_seconds=snap.reset_seconds,
                retry_after_seconds=snap.retry_after_seconds,
                total_failures=snap.total_failures,
                total_successes=snap.total_successes,
                rejected_calls=snap.rejected_calls,
                times_opened=snap.times_opened,
                last_failure=snap.last_failure,
                last_failure_age_seconds=snap.last_failure_age_seconds,
            )
        )
    return CircuitBreakerList(breakers=items)


@router.get("/queue", response_model=QueueStatus, summary="Offline write queue", responses=error_responses())
async def queue_status(runtime: RuntimeDep) -> QueueStatus:
    """Depth of the durable queue of writes accepted while PostgreSQL was unreachable."""
    depth, oldest = runtime.queue.stats()
    return QueueStatus(
        depth=depth,
        oldest_age_seconds=None if oldest is None else round(oldest, 3),
        enqueued_total=runtime.queue.enqueued_total,
        synced_total=runtime.queue.synced_total,
        syncing=depth > 0 and runtime.db.breaker.state is BreakerState.CLOSED,
        event_outbox_depth=runtime.events.outbox_depth,
    )


METRICS_FRESHNESS = {
    "X-Data-Freshness": {
        "description": "`stale` while metrics collection lags (see `collected.age_seconds`).",
        "schema": {"type": "string", "enum": ["fresh", "stale"]},
        "required": True,
    },
    "Age": {
        "description": "Seconds since the last successful collection (only when stale).",
        "schema": {"type": "integer", "minimum": 0},
        "required": False,
    },
}


@router.get(
    "/metrics",
    response_model=MetricsReport,
    summary="System metrics: real-time, collected and historical",
    responses={
        200: {"headers": METRICS_FRESHNESS},
        206: {
            "model": MetricsReport,
            "headers": METRICS_FRESHNESS,
            "description": "Some figures could not be calculated: the available ones, with `warnings`.",
        },
        **error_responses(),
    },
)
async def system_metrics_report(runtime: RuntimeDep) -> JSONResponse:
    """200 normally. Redis (the metrics store) down: real-time only, `historical.available` false.
    Collection lagging: last collected values with `stale`, `age_seconds`, `X-Data-Freshness: stale`
    and `Age`. A calculation failure: 206 with the available fields and warnings."""
    document = await system_metrics.report(runtime)
    return JSONResponse(
        document.model_dump(mode="json"),
        status_code=206 if document.status == "partial" else 200,
        headers=system_metrics.freshness_headers(document),
    )


KILL_SWITCH_EFFECT = "mutations by non-admin callers get 503 `kill_switch_engaged`; reads and admins work"


def _kill_switch_state(runtime: Runtime) -> KillSwitchState:
    switch = runtime.kill_switch
    return KillSwitchState(
        engaged=switch.engaged,
        reason=switch.reason,
        changed_by=switch.changed_by,
        changed_at=switch.changed_at,
        persisted=not switch.dirty,
        effect=KILL_SWITCH_EFFECT,
    )


@router.get(
    "/kill-switch",
    response_model=KillSwitchState,
    summary="Kill switch state",
    responses=error_responses(401, 403),
)
async def get_kill_switch(runtime: RuntimeDep, _caller: Viewer) -> KillSwitchState:
    return _kill_switch_state(runtime)


@router.post(
    "/kill-switch",
    dependencies=[Guarded],
    response_model=KillSwitchState,
    summary="Engage or disengage the kill switch (admin)",
    responses=error_responses(401, 403, 422, 503),
)
async def set_kill_switch(body: KillSwitchChange, runtime: RuntimeDep, caller: Admin) -> KillSwitchState:
    """Takes effect in this process at once; written to PostgreSQL now or as soon as it is reachable
    (`persisted` says which), and picked up by every other worker within a second or two."""
    switch = runtime.kill_switch
    switch.set(body.engaged, body.reason, caller.client_id)
    runtime.telemetry.count("kill_switch", "engaged" if body.engaged else "disengaged")
    try:
        await runtime.db.run(lambda connection: kill_switch.persist(connection, switch))
        switch.dirty = False
    except DependencyUnavailable:
        pass  # enforced already; the background loop writes it when PostgreSQL returns
    return _kill_switch_state(runtime)
