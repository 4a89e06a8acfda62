"""PostgreSQL access: an asyncpg pool behind a circuit breaker with hard deadlines.

Why the care: under a Toxiproxy ``timeout`` toxic the TCP connection stays
open but nothing comes back, so a plain query waits forever and a plain pool
release (which sends a reset query) hangs too. Every call here therefore runs
under one deadline covering acquire + query; on a deadline or a link error the
connection is *terminated* (not politely released) and the breaker counts a
failure, so the pool never fills with wedged connections and the caller gets a
:class:`DependencyUnavailable` in at most ``db_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from reference_impl.breakers import BreakerOpen, CircuitBreaker
from reference_impl.dependencies import DependencyUnavailable, describe, is_postgres_infrastructure_error
from reference_impl.settings import Settings

log = logging.getLogger("prism.database")

T = TypeVar("T")
Connection = Any  # asyncpg ships no type stubs for its connection proxies
Operation = Callable[[Connection], Awaitable[T]]

DEPENDENCY = "postgresql"


async def _init_connection(connection: Connection) -> None:
    """JSON and JSONB columns travel as Python objects, not strings."""
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name,
            encoder=lambda value: json.dumps(value, separators=(",", ":")),
            decoder=json.loads,
            schema="pg_catalog",
        )


async def _skip_reset(_connection: Connection) -> None:
    """Pool reset hook: the service uses no session state, so skip the reset round trip."""


class Database:
    """The service's only way to reach PostgreSQL."""

    def __init__(self, settings: Settings, breaker: CircuitBreaker) -> None:
        self.settings = settings
        self.breaker = breaker
        self._pool: asyncpg.Pool | None = None
        self.timeouts = 0

    async def open(self) -> None:
        """Create the pool without connecting, so the service starts even if the database is down."""
        self._pool = await asyncpg.create_pool(
            self.settings.database_url,
            min_size=0,
            max_size=self.settings.db_pool_max,
            max_inactive_connection_lifetime=60.0,
            timeout=self.settings.db_timeout,
            command_timeout=None,
            reset=_skip_reset,
            init=_init_connection,
            server_settings={"application_name": "prism-api"},
        )

    async def close(self) -> None:
        """Close the pool; terminate connections that do not close within a second."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with asyncio.timeout(1.0):
                await pool.close()
        except TimeoutError:
            pool.terminate()

    async def run(self, operation: Operation[T], *, timeout: float | None = None) -> T:
        """Run ``operation(connection)`` under the breaker and one deadline for acquire + work."""
        if self._pool is None:
            raise DependencyUnavailable(DEPENDENCY, "not connected", self.settings.breaker_reset_seconds)
        try:
            self.breaker.before_call()
        except BreakerOpen as exc:
            raise DependencyUnavailable(DEPENDENCY, "circuit breaker open", exc.retry_after) from None
        deadline = self.settings.db_timeout if timeout is None else timeout
        connection: Connection | None = None
        healthy = False
        try:
            async with asyncio.timeout(deadline):
                connection = await self._pool.acquire()
                result = await operation(connection)
            healthy = True
        except asyncio.CancelledError:
            self.breaker.release_trial()
            raise
        except Exception as exc:
            if not is_postgres_infrastructure_error(exc):
                self.breaker.record_success()  # the server answered; the query itself was wrong
                healthy = True
                raise
            reason = describe(exc)
            timed_out = isinstance(exc, TimeoutError)
            self.timeouts += int(timed_out)
            self.breaker.record_failure(reason)
            log.warning("postgresql call failed: %s", reason)
            raise DependencyUnavailable(
                DEPENDENCY,
                reason,
                self.breaker.retry_after() or self.settings.breaker_reset_seconds,
                timed_out=timed_out,
            ) from exc
        finally:
            if connection is not None:
                await self._give_back(connection, healthy=healthy)
        self.breaker.record_success()
        return result

    async def _give_back(self, connection: Connection, *, healthy: bool) -> None:
        """Release a connection; terminate it first when its link is suspect."""
        assert self._pool is not None
        if not healthy:
            connection.terminate()
        try:
            await self._pool.release(connection, timeout=self.settings.db_timeout)
        except Exception as exc:  # noqa: BLE001 - release failures only cost a connection
            log.debug("dropping a connection that failed to release: %s", describe(exc))

    async def ping(self) -> None:
        """``SELECT 1`` through the breaker: the health check and the recovery prober use it."""
        await self.run(lambda connection: connection.fetchval("SELECT 1"))
