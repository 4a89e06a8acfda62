"""What the service can do right now, derived from the state of its dependencies.

Why a matrix rather than up/down: when PostgreSQL is out the service still
lists agents (stale, from Redis) and still accepts new ones (offline queue),
but cannot change a configuration. Clients and chaos scenarios need that
nuance; it appears in every error envelope and in the health report.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reference_impl.breakers import BreakerState, CircuitBreaker
from reference_impl.errors import FunctionalityMatrix


class SubsystemHealth(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILED = "failed"


class CapabilityLevel(StrEnum):
    AVAILABLE = "available"
    LIMITED = "limited"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Capability:
    """One capability, its level and why."""

    name: str
    level: CapabilityLevel
    reason: str | None


def health_of(breaker: CircuitBreaker) -> SubsystemHealth:
    """Closed → healthy, half-open (being probed) → degraded, open → failed."""
    state = breaker.state
    if state is BreakerState.CLOSED:
        return SubsystemHealth.HEALTHY
    if state is BreakerState.HALF_OPEN:
        return SubsystemHealth.DEGRADED
    return SubsystemHealth.FAILED


def capabilities(
    database: SubsystemHealth, redis: SubsystemHealth, *, writes_blocked: bool = False
) -> list[Capability]:
    """The capability matrix for given PostgreSQL and Redis health (and storage-integrity write block)."""
    db_ok = database is SubsystemHealth.HEALTHY
    redis_ok = redis is SubsystemHealth.HEALTHY
    available, limited, unavailable = (
        CapabilityLevel.AVAILABLE,
        CapabilityLevel.LIMITED,
        CapabilityLevel.UNAVAILABLE,
    )

    def pick(ok: bool, fallback: CapabilityLevel, reason: str) -> tuple[CapabilityLevel, str | None]:
        return (available, None) if ok else (fallback, reason)

    if db_ok:
        agents_read: tuple[CapabilityLevel, str | None] = (available, None)
    elif redis_ok:
        agents_read = (limited, "served from the Redis cache; data may be stale")
    else:
        agents_read = (unavailable, "PostgreSQL and the Redis cache are both unavailable")
    table = {
        "agents.read": agents_read,
        "agents.write": pick(db_ok, limited, "accepted into the durable offline queue; synced on recovery"),
        "agents.heartbeat": pick(
            db_ok, limited, "accepted into the durable offline queue; synced on recovery"
        ),
        "agents.config": pick(db_ok, unavailable, "configuration changes need PostgreSQL"),
        "auth.token": pick(db_ok, unavailable, "issuing and refreshing tokens needs PostgreSQL"),
        "auth.verify": (available, None),
        "events.stream": pick(redis_ok, limited, "events are buffered in memory until Redis returns"),
        "metrics.realtime": (available, None),
        "metrics.history": pick(redis_ok, unavailable, "the metrics history lives in Redis"),
        "tasks.read": pick(db_ok, unavailable, "tasks live in PostgreSQL"),
        "tasks.submit": pick(db_ok, unavailable, "a task is only accepted once stored (424 meanwhile)"),
        "health": (available, None),
    }
    if writes_blocked:
        reason = "writes are blocked until the storage integrity check passes"
        for name in ("agents.write", "agents.heartbeat", "agents.config", "tasks.submit"):
            table[name] = (unavailable, reason)
    return [Capability(name, level, reason) for name, (level, reason) in table.items()]


def functionality(
    db_breaker: CircuitBreaker, redis_breaker: CircuitBreaker, *, writes_blocked: bool = False
) -> FunctionalityMatrix:
    """The envelope's functionality matrix from the breakers alone (no extra dependency calls)."""
    matrix: dict[CapabilityLevel, list[str]] = {level: [] for level in CapabilityLevel}
    states = capabilities(health_of(db_breaker), health_of(redis_breaker), writes_blocked=writes_blocked)
    for capability in states:
        matrix[capability.level].append(capability.name)
    return FunctionalityMatrix(
        available=matrix[CapabilityLevel.AVAILABLE],
        limited=matrix[CapabilityLevel.LIMITED],
        unavailable=matrix[CapabilityLevel.UNAVAILABLE],
    )
