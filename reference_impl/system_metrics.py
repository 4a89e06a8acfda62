"""System metrics: real-time figures, a background collector, and a history in Redis.

Three sources with three failure modes (R9 row 5):

* real-time figures come from the process's own counters and are always
  available;
* collected figures (agents and tasks by status) are read from PostgreSQL by
  a background collector every ``metrics_interval``; while it cannot collect
  (database timeout or outage) the last values are served, marked stale with
  their age, instead of failing the request;
* the history is a capped list in Redis (the metrics store); while Redis is
  down the endpoint answers real-time only with the history disabled.

A calculation failure (the chaos hook ``metrics_calculation_failure``) leaves
the latency percentiles uncomputable: the endpoint answers 206 with the
fields it has and a warning.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from reference_impl.chaos import Fault
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.runtime import Collected, Runtime
from reference_impl.schemas.metrics import (
    CollectedMetrics,
    HistoricalMetrics,
    MetricsReport,
    MetricsSample,
    RealtimeMetrics,
)

log = logging.getLogger("prism.metrics")

HISTORY_KEY = "prism:metrics:system"
HISTORY_RETURNED = 60
STALE_AFTER_INTERVALS = 3.0
BACKPRESSURE_EVENTS = ("queued_write",)


def _event_total(runtime: Runtime, name: str) -> int:
    return sum(count for (event, _label), count in runtime.telemetry.events.items() if event == name)


def realtime(runtime: Runtime, *, calculation_failed: bool) -> RealtimeMetrics:
    """The process's own figures, computed now."""
    telemetry = runtime.telemetry
    total = sum(telemetry.requests.values())
    errors = sum(count for (_m, _r, status), count in telemetry.requests.items() if status >= 500)
    snap = runtime.db.breaker.snapshot()
    calls = snap.total_failures + snap.total_successes
    p95 = None if calculation_failed else telemetry.percentile(0.95)
    p99 = None if calculation_failed else telemetry.percentile(0.99)
    depth, _oldest = runtime.queue.stats()
    return RealtimeMetrics(
        requests_total=total,
        server_errors_total=errors,
        error_rate=round(errors / total, 6) if total else 0.0,
        latency_p95_ms=None if p95 is None else round(p95 * 1000, 3),
        latency_p99_ms=None if p99 is None else round(p99 * 1000, 3),
        db_timeout_percentage=round(100.0 * runtime.db.timeouts / calls, 3) if calls else 0.0,
        circuit_breakers={b.name: b.state.value for b in runtime.breakers},
        pii_blocked_total=_event_total(runtime, "pii_blocked"),
        offline_queue_depth=depth,
        backpressure_events_total=sum(_event_total(runtime, name) for name in BACKPRESSURE_EVENTS),
        event_outbox_depth=runtime.events.outbox_depth,
        kill_switch_engaged=runtime.kill_switch.engaged,
    )


async def collect(runtime: Runtime) -> None:
    """One collector round: read counts from PostgreSQL, then append a sample to the history in Redis."""
    try:
        rows = await runtime.db.run(
            lambda connection: connection.fetch(
                "SELECT 'agent' AS kind, status, count(*) AS n FROM agents GROUP BY status"
                " UNION ALL SELECT 'task', status, count(*) FROM tasks GROUP BY status"
            )
        )
    except DependencyUnavailable as exc:
        log.debug("metrics collection skipped: %s", exc.reason)
    else:
        agents = {row["status"]: int(row["n"]) for row in rows if row["kind"] == "agent"}
        tasks = {row["status"]: int(row["n"]) for row in rows if row["kind"] == "task"}
        runtime.collected = Collected(agents, tasks, time.time())
    now = realtime(runtime, calculation_failed=False)
    collected = runtime.collected
    sample = {
        "at": datetime.now(UTC).isoformat(),
        "requests_total": now.requests_total,
        "error_rate": now.error_rate,
        "latency_p95_ms": now.latency_p95_ms,
        "offline_queue_depth": now.offline_queue_depth,
        "agents_total": sum(collected.agents_by_status.values()) if collected else None,
    }
    try:
        await runtime.redis.push_history(HISTORY_KEY, sample)
    except DependencyUnavailable:
        runtime.telemetry.count("metrics_history_skipped", "redis_unavailable")


async def _history(runtime: Runtime) -> HistoricalMetrics:
    try:
        raw = await runtime.redis.run(lambda client: client.lrange(HISTORY_KEY, 0, HISTORY_RETURNED - 1))
    except DependencyUnavailable as exc:
        return HistoricalMetrics(
            available=False,
            reason=f"metrics store (Redis) unavailable: {exc.reason}; real-time figures only",
            samples=[],
        )
    samples: list[MetricsSample] = []
    for item in raw:
        try:
            samples.append(MetricsSample.model_validate(json.loads(item)))
        except ValueError:
            continue
    return HistoricalMetrics(available=True, reason=None, samples=samples)


async def report(runtime: Runtime) -> MetricsReport:
    """The whole document; its ``status`` says whether every figure could be calculated."""
    warnings: list[str] = []
    calculation_failed = runtime.chaos.active(Fault.METRICS_CALCULATION_FAILURE) is not None
    if calculation_failed:
        warnings.append("latency percentiles could not be calculated; latency_p95_ms/p99_ms are null")
    historical = await _history(runtime)
    if not historical.available:
        warnings.append(historical.reason or "history disabled")
    collected: CollectedMetrics | None = None
    source = runtime.collected
    max_age = runtime.settings.metrics_interval * STALE_AFTER_INTERVALS
    if source is None:
        warnings.append("the collector has not succeeded yet; collected figures are missing")
    else:
        age = max(0.0, time.time() - source.collected_at)
        collected = CollectedMetrics(
            agents_total=sum(source.agents_by_status.values()),
            agents_by_status=source.agents_by_status,
            tasks_by_status=source.tasks_by_status,
            collected_at=datetime.fromtimestamp(source.collected_at, UTC),
            age_seconds=round(age, 3),
            stale=age > max_age,
            max_age_seconds=max_age,
        )
        if collected.stale:
            warnings.append(f"metrics collection is lagging: collected figures are {age:.1f}s old")
    return MetricsReport(
        status="partial" if calculation_failed else "complete",
        mode="full" if historical.available else "realtime_only",
        generated_at=datetime.now(UTC),
        realtime=realtime(runtime, calculation_failed=calculation_failed),
        collected=collected,
        historical=historical,
        warnings=warnings,
    )


def freshness_headers(document: MetricsReport) -> dict[str, Any]:
    """`X-Data-Freshness` (and `Age` when stale) for the collected figures."""
    collected = document.collected
    if collected is None or not collected.stale:
        return {"X-Data-Freshness": "fresh"}
    return {"X-Data-Freshness": "stale", "Age": str(int(collected.age_seconds))}
