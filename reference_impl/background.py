"""Background loops: drain the offline queue, probe broken dependencies, mirror revocations.

Why a prober: a breaker only learns that a dependency is back when a call is
tried. Without traffic that could take forever, and with traffic the trial
would cost a user request a full timeout. The prober pings every dependency
whose breaker is not closed, so recovery is noticed within
``breaker_reset_seconds + probe_interval`` and user requests rarely pay for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from reference_impl import agent_store, kill_switch, system_metrics, task_store, token_store
from reference_impl.breakers import BreakerState
from reference_impl.chaos import Fault
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.migrations import migrate
from reference_impl.offline_queue import QueuedOperation
from reference_impl.runtime import Runtime
from reference_impl.storage_integrity import recover

log = logging.getLogger("prism.background")

SYNC_BATCH = 200
REVOCATION_REFRESH_SECONDS = 2.0
IDLE_PING_EVERY_ROUNDS = 4
AUDIT_FLUSH_SECONDS = 0.1


async def sync_offline_queue(runtime: Runtime) -> int:
    """Replay queued operations into PostgreSQL in batches; returns how many were committed."""
    committed = 0
    for _ in range(50):  # bounded per round; the next round continues
        batch = await runtime.queue.peek(SYNC_BATCH)
        if not batch:
            break
        created: list[str] | None
        try:
            created = await agent_store.apply_queued(
                runtime.db, batch, timeout=max(2.0, runtime.settings.db_timeout * 4)
            )
        except DependencyUnavailable:
            await runtime.queue.bump_attempts([operation.seq for operation in batch])
            break
        except Exception:  # a bad entry must not block the queue forever: replay one by one
            log.exception("a queued batch failed; replaying it entry by entry")
            created = await _replay_individually(runtime, batch)
            if created is None:
                break
        await runtime.queue.ack([operation.seq for operation in batch])
        committed += len(batch)
        for operation in batch:
            if operation.key in created:
                runtime.events.publish(
                    "agent.created",
                    {
                        "agent_id": operation.key,
                        "name": operation.payload.get("name"),
                        "via": "offline_queue",
                    },
                )
        runtime.telemetry.count("queue_synced", "batch")
    if committed:
        log.info("synced %d queued operations into PostgreSQL", committed)
    return committed


async def _replay_individually(runtime: Runtime, batch: list[QueuedOperation]) -> list[str] | None:
    """Apply entries one at a time; entries the database rejects as invalid go to the log, not back in line.

    Returns the ids created, or None when the database became unavailable midway (nothing is lost:
    entries not yet applied stay queued).
    """
    created: list[str] = []
    for operation in batch:
        try:
            created += await agent_store.apply_queued(
                runtime.db, [operation], timeout=runtime.settings.db_timeout * 4
            )
        except DependencyUnavailable:
            return None
        except Exception:
            log.exception(
                "dropping queued operation %s %s that PostgreSQL rejects: %s",
                operation.kind,
                operation.key,
                operation.payload,
            )
            runtime.telemetry.count("queue_dead_letter", operation.kind)
    return created


async def _every(
    stop: asyncio.Event, interval: float, name: str, step: Callable[[], Awaitable[object]]
) -> None:
    """Run ``step`` every ``interval`` seconds until ``stop``; a failing step is logged, never fatal."""
    while not stop.is_set():
        try:
            await step()
        except Exception:
            log.exception("background step %s failed", name)
        try:
            async with asyncio.timeout(interval):
                await stop.wait()
        except TimeoutError:
            pass


class BackgroundWorkers:
    """Starts and stops the service's background tasks."""

    def __init__(self, runtime: Runtime, *, migrated: bool) -> None:
        self.runtime = runtime
        self.migrated = migrated
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._revocations_age = 0.0
        self._rounds = 0

    def start(self) -> None:
        settings = self.runtime.settings
        self._tasks = [
            asyncio.create_task(_every(self._stop, settings.sync_interval, "sync", self._sync)),
            asyncio.create_task(_every(self._stop, settings.probe_interval, "probe", self._probe)),
            asyncio.create_task(self.runtime.events.run(self._stop, settings.probe_interval)),
            asyncio.create_task(
                _every(self._stop, settings.metrics_interval, "metrics", self._collect_metrics)
            ),
            asyncio.create_task(_every(self._stop, AUDIT_FLUSH_SECONDS, "audit", self._flush_audit)),
            asyncio.create_task(
                self.runtime.snapshots.listen(
                    settings.database_url, self._stop, max(settings.db_timeout, 0.3)
                )
            ),
        ]

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=3.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _sync(self) -> None:
        runtime = self.runtime
        if not self.migrated:
            try:
                await migrate(runtime.settings, wait=0)
            except Exception as exc:  # noqa: BLE001 - the database is still away; try next round
                log.debug("migrations still pending: %s", exc)
                return
            self.migrated = True
        if runtime.db.breaker.state is BreakerState.OPEN:
            return
        with contextlib.suppress(DependencyUnavailable):
            await recover(runtime)
        if runtime.integrity.blocked:
            return  # no writes of any kind until the storage is verified
        depth, _oldest = runtime.queue.stats()
        if depth and runtime.chaos.active(Fault.RESOURCE_EXHAUSTION) is None:
            await sync_offline_queue(runtime)
        with contextlib.suppress(DependencyUnavailable):
            for task_id, agent_id in await task_store.assign_queued(runtime.db):
                runtime.events.publish("task.assigned", {"task_id": task_id, "agent_id": agent_id})
            await self._apply_parked_configs()

    async def _apply_parked_configs(self) -> None:
        """Configurations parked for busy agents are applied once the agent is no longer busy."""
        busy = self.runtime.chaos.active(Fault.AGENT_BUSY)
        if busy is not None and busy.agent_id is None:
            return  # every agent is busy
        for record in await agent_store.apply_pending_configs(
            self.runtime.db, busy.agent_id if busy else None
        ):
            self.runtime.events.publish(
                "agent.config.updated",
                {"agent_id": record["id"], "config_version": record["config_version"], "via": "pending"},
            )

    async def _collect_metrics(self) -> None:
        self.runtime.resources.sample()
        self.runtime.announce_overload()
        if self.migrated:
            await system_metrics.collect(self.runtime)

    async def _flush_audit(self) -> None:
        if self.migrated and self.runtime.audit.pending:
            with contextlib.suppress(DependencyUnavailable):
                await self.runtime.audit.flush(self.runtime.db, self.runtime.redis)

    async def _sync_kill_switch(self) -> None:
        """Write a change made while PostgreSQL was away; otherwise adopt changes made by other workers."""
        switch = self.runtime.kill_switch
        with contextlib.suppress(DependencyUnavailable):
            if switch.dirty:
                await self.runtime.db.run(lambda connection: kill_switch.persist(connection, switch))
                switch.dirty = False
            else:
                row = await self.runtime.db.run(kill_switch.load)
                if switch.adopt(row):
                    log.warning(
                        "kill switch %s by %s",
                        "engaged" if switch.engaged else "disengaged",
                        switch.changed_by,
                    )

    async def _probe(self) -> None:
        """Half-open breakers get their trial every round; closed ones a liveness ping every few rounds,
        so a dependency that died while idle is noticed without waiting for a request to fail."""
        runtime = self.runtime
        self._rounds += 1
        for breaker, ping in (
            (runtime.db.breaker, runtime.db.ping),
            (runtime.redis.breaker, runtime.redis.ping),
        ):
            state = breaker.state
            idle_check = state is BreakerState.CLOSED and self._rounds % IDLE_PING_EVERY_ROUNDS == 0
            if state is BreakerState.HALF_OPEN or idle_check:
                with contextlib.suppress(DependencyUnavailable):
                    await ping()
        runtime.apply_policies()
        if self.migrated and runtime.db.breaker.state is BreakerState.CLOSED:
            await self._sync_kill_switch()
        self._revocations_age += runtime.settings.probe_interval
        if (
            self._revocations_age >= REVOCATION_REFRESH_SECONDS
            and runtime.db.breaker.state is BreakerState.CLOSED
        ):
            self._revocations_age = 0.0
            try:
                for family_id in await token_store.recently_revoked(
                    runtime.db, runtime.settings.access_token_ttl
                ):
                    runtime.revoke_family(family_id)
            except DependencyUnavailable:
                pass
            runtime.forget_expired_revocations()
