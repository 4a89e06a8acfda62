"""The live parts of one running service, shared by every request.

Why one object: routers, the error handlers and the background loops all
need the same pool, Redis client, breakers, queue and counters; keeping them
on ``app.state.runtime`` (not in module globals) lets tests build several
independent apps in one process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from fastapi import Request

from reference_impl.audit import AuditTrail
from reference_impl.breakers import BreakerState, CircuitBreaker
from reference_impl.capabilities import functionality
from reference_impl.chaos import ChaosControl
from reference_impl.database import Database
from reference_impl.errors import FunctionalityMatrix
from reference_impl.events import EventLog
from reference_impl.kill_switch import KillSwitch
from reference_impl.local_store import LocalStore
from reference_impl.offline_queue import OfflineQueue
from reference_impl.overload import ResourceReading, overload_reason
from reference_impl.policies import Mode, Policies
from reference_impl.redis_store import RedisStore
from reference_impl.settings import Settings
from reference_impl.snapshots import AgentSnapshots
from reference_impl.storage_integrity import StorageIntegrity
from reference_impl.telemetry import Telemetry


@dataclass(frozen=True)
class Collected:
    """One successful round of the metrics collector (see :mod:`reference_impl.system_metrics`)."""

    agents_by_status: dict[str, int]
    tasks_by_status: dict[str, int]
    collected_at: float  # wall clock


log = logging.getLogger("prism.runtime")

_STATE_VALUES = {BreakerState.CLOSED: 0.0, BreakerState.HALF_OPEN: 1.0, BreakerState.OPEN: 2.0}


@dataclass
class Runtime:
    """Everything a request handler may touch."""

    settings: Settings
    db: Database
    redis: RedisStore
    queue: OfflineQueue
    events: EventLog
    telemetry: Telemetry
    chaos: ChaosControl
    integrity: StorageIntegrity = field(default_factory=StorageIntegrity)
    started_at: float = field(default_factory=time.time)
    # token family id -> wall-clock time after which remembering the revocation is pointless
    revoked_families: dict[str, float] = field(default_factory=dict)
    # cache key -> monotonic time this process last wrote it (throttles cache refreshes on hot reads)
    cache_written_at: dict[str, float] = field(default_factory=dict)
    # the metrics collector's last successful round
    collected: Collected | None = None
    kill_switch: KillSwitch = field(default_factory=KillSwitch)
    audit: AuditTrail = field(default_factory=AuditTrail)
    # nonces and idempotency records while Redis is down (see reference_impl.guards)
    guard_store: LocalStore = field(default_factory=LocalStore)
    snapshots: AgentSnapshots = field(default_factory=AgentSnapshots)
    resources: ResourceReading = field(default_factory=ResourceReading)
    overload_announced: str | None = None
    """The overload reason last announced as `system.resource.critical` (None: not overloaded)."""
    policies: Policies = field(default_factory=lambda: Policies(None, ["127.0.0.0/8", "::1/128"]))

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        telemetry = Telemetry()
        db_breaker = CircuitBreaker(
            "postgresql",
            failure_threshold=settings.breaker_failure_threshold,
            reset_seconds=settings.breaker_reset_seconds,
        )
        redis_breaker = CircuitBreaker(
            "redis",
            failure_threshold=settings.breaker_failure_threshold,
            reset_seconds=settings.breaker_reset_seconds,
        )
        redis_store = RedisStore(settings, redis_breaker)
        return cls(
            settings=settings,
            db=Database(settings, db_breaker),
            redis=redis_store,
            queue=OfflineQueue(settings.data_dir / "offline-queue.sqlite3"),
            events=EventLog(redis_store, telemetry),
            telemetry=telemetry,
            chaos=ChaosControl(enabled=settings.chaos_enabled),
            policies=Policies(
                None if settings.emergency_policies == "default" else Mode(settings.emergency_policies),
                list(settings.trusted_networks),
            ),
        )

    @property
    def breakers(self) -> list[CircuitBreaker]:
        return [self.db.breaker, self.redis.breaker]

    def functionality(self) -> FunctionalityMatrix:
        return functionality(self.db.breaker, self.redis.breaker, writes_blocked=self.integrity.blocked)

    def overload(self) -> str | None:
        """Why the service is overloaded (R5.2), or None."""
        return overload_reason(
            self.resources,
            self.chaos,
            self.settings.overload_cpu_percent,
            self.settings.overload_memory_percent,
        )

    def announce_overload(self) -> None:
        """Publish `system.resource.critical` when the service becomes overloaded (R5.4), once per
        episode, so subscribers learn why the stream is about to be throttled."""
        reason = self.overload()
        if reason is not None and self.overload_announced is None:
            log.warning("resources critical: %s", reason)
            self.telemetry.count("resource_critical", "cpu" if reason.startswith("cpu") else "memory")
            self.events.publish(
                "system.resource.critical",
                {
                    "reason": reason,
                    "cpu_percent": self.resources.cpu_percent,
                    "memory_percent": self.resources.memory_percent,
                },
            )
        self.overload_announced = reason

    def announce_breach(self, kind: str, details: dict[str, object]) -> None:
        """Publish `security.breach.detected` (R5.4): evidence that a credential or a record was
        compromised, as opposed to an attempt that was merely refused."""
        log.error("security breach detected: %s %s", kind, details)
        self.telemetry.count("security_breach", kind)
        self.events.publish("security.breach.detected", {"kind": kind, **details})

    def apply_policies(self) -> None:
        """Re-evaluate the emergency policies; log, count and announce every change."""
        for policy in self.policies.evaluate(self.db.breaker, self.redis.breaker):
            change = "activated" if policy.active else "deactivated"
            log.warning("emergency policy %s %s (%s)", policy.id.value, change, policy.reason or "recovered")
            self.telemetry.count("emergency_policy", f"{policy.id.value}:{change}")
            self.events.publish(
                "security.alert" if policy.active else "security.policy.reverted",
                {"policy": policy.id.value, "state": change, "reason": policy.reason},
            )

    def revoke_family(self, family_id: str) -> None:
        """Remember locally that tokens of this family are dead (the database has the durable record)."""
        self.revoked_families[family_id] = time.time() + self.settings.access_token_ttl + 60

    def is_revoked(self, family_id: str) -> bool:
        return family_id in self.revoked_families

    def forget_expired_revocations(self) -> None:
        now = time.time()
        for family_id in [fid for fid, until in self.revoked_families.items() if until < now]:
            del self.revoked_families[family_id]

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        """Scrape-time figures for ``/metrics``."""
        depth, oldest = self.queue.stats()
        values: list[tuple[str, str, dict[str, str], float]] = []
        for breaker in self.breakers:
            snap = breaker.snapshot()
            labels = {"dependency": snap.name}
            values += [
                (
                    "prism_circuit_breaker_state",
                    "0 closed, 1 half-open, 2 open.",
                    labels,
                    _STATE_VALUES[snap.state],
                ),
                (
                    "prism_circuit_breaker_failures",
                    "Infrastructure failures seen by the breaker.",
                    labels,
                    float(snap.total_failures),
                ),
                (
                    "prism_circuit_breaker_rejected",
                    "Calls rejected while the breaker was open.",
                    labels,
                    float(snap.rejected_calls),
                ),
                (
                    "prism_circuit_breaker_opened",
                    "Times the breaker opened.",
                    labels,
                    float(snap.times_opened),
                ),
            ]
        values += [
            ("prism_offline_queue_depth", "Operations waiting for PostgreSQL.", {}, float(depth)),
            (
                "prism_offline_queue_oldest_age_seconds",
                "Age of the oldest queued operation.",
                {},
                float(oldest or 0.0),
            ),
            (
                "prism_offline_queue_enqueued",
                "Operations accepted into the queue by this process.",
                {},
                float(self.queue.enqueued_total),
            ),
            (
                "prism_offline_queue_synced",
                "Queued operations committed to PostgreSQL by this process.",
                {},
                float(self.queue.synced_total),
            ),
            ("prism_event_outbox_depth", "Events waiting for Redis.", {}, float(self.events.outbox_depth)),
            ("prism_db_timeouts", "PostgreSQL calls that hit their deadline.", {}, float(self.db.timeouts)),
            ("prism_uptime_seconds", "Seconds since start.", {}, time.time() - self.started_at),
            (
                "prism_writes_blocked",
                "1 while storage corruption blocks writes.",
                {},
                float(self.integrity.blocked),
            ),
            (
                "prism_chaos_faults_active",
                "Internal faults injected through the chaos hooks.",
                {},
                float(len(self.chaos.list())),
            ),
        ]
        for name, fraction in (("p95", 0.95), ("p99", 0.99)):
            value = self.telemetry.percentile(fraction)
            if value is not None:
                values.append(
                    (
                        "prism_http_latency_recent_seconds",
                        "Latency percentile over the most recent requests.",
                        {"quantile": name},
                        value,
                    )
                )
        return values


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the runtime of the app serving this request."""
    runtime: Runtime = request.app.state.runtime
    return runtime
