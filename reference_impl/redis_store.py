"""Redis access: cache, metrics history and the event log's storage, behind a breaker.

Why the explicit client options: redis-py retries failed commands with
backoff by default, which turns a Redis outage into multi-second stalls of
every request. Here retries are off, socket timeouts are short and every call
also runs under an ``asyncio`` deadline, so a dead or silent Redis costs at
most ``redis_timeout`` per call until the breaker opens, and nothing after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from reference_impl.breakers import BreakerOpen, CircuitBreaker
from reference_impl.dependencies import DependencyUnavailable, describe, is_redis_infrastructure_error
from reference_impl.settings import Settings

log = logging.getLogger("prism.redis")

T = TypeVar("T")
DEPENDENCY = "redis"
CACHE_TTL_SECONDS = 24 * 3600
METRICS_HISTORY_LENGTH = 120


@dataclass(frozen=True)
class CachedValue:
    """A cached JSON document and how old it is."""

    value: Any
    stored_at: float

    @property
    def age_seconds(self) -> float:
        return max(0.0, time.time() - self.stored_at)


class RedisStore:
    """The service's only way to reach Redis."""

    def __init__(self, settings: Settings, breaker: CircuitBreaker) -> None:
        self.settings = settings
        self.breaker = breaker
        self._client: aioredis.Redis | None = None

    async def open(self) -> None:
        """Create the client; it connects lazily, so start-up never waits for Redis."""
        timeout = self.settings.redis_timeout
        self._client = aioredis.Redis.from_url(
            self.settings.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One immediate retry on a broken connection: after an outage the pool still holds
            # sockets the network dropped, and the first use of each would fail for nothing.
            # Timeouts are not retried: the deadline of `run` bounds every call.
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
            health_check_interval=0,
            decode_responses=False,
        )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                async with asyncio.timeout(1.0):
                    await client.aclose()
            except (TimeoutError, OSError):
                pass

    async def run(self, operation: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """Run ``operation(client)`` under the breaker and a hard deadline."""
        if self._client is None:
            raise DependencyUnavailable(DEPENDENCY, "not connected", self.settings.breaker_reset_seconds)
        try:
            self.breaker.before_call()
        except BreakerOpen as exc:
            raise DependencyUnavailable(DEPENDENCY, "circuit breaker open", exc.retry_after) from None
        try:
            async with asyncio.timeout(self.settings.redis_timeout + 0.1):
                result = await operation(self._client)
        except asyncio.CancelledError:
            self.breaker.release_trial()
            raise
        except Exception as exc:
            if not is_redis_infrastructure_error(exc):
                self.breaker.record_success()
                raise
            reason = describe(exc)
            self.breaker.record_failure(reason)
            log.warning("redis call failed: %s", reason)
            raise DependencyUnavailable(
                DEPENDENCY,
                reason,
                self.breaker.retry_after() or self.settings.breaker_reset_seconds,
                timed_out=isinstance(exc, TimeoutError),
            ) from exc
        self.breaker.record_success()
        return result

    async def ping(self) -> None:
        await self.run(lambda client: client.ping())

    async def cache_put(self, key: str, value: Any) -> None:
        """Store a JSON document with its wall-clock time (shared by all workers) for `Age`."""
        payload = json.dumps({"stored_at": time.time(), "value": value}, separators=(",", ":"))
        await self.run(lambda client: client.set(key, payload, ex=CACHE_TTL_SECONDS))

    async def cache_get(self, key: str) -> CachedValue | None:
        raw = await self.run(lambda client: client.get(key))
        if raw is None:
            return None
        try:
            document = json.loads(raw)
            return CachedValue(value=document["value"], stored_at=float(document["stored_at"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a corrupt cache entry %s", key)
            return None

    async def cache_delete(self, *keys: str) -> None:
        if keys:
            await self.run(lambda client: client.delete(*keys))

    async def push_history(self, key: str, sample: dict[str, Any]) -> None:
        """Append a metrics sample to a capped list (newest first)."""
        payload = json.dumps(sample, separators=(",", ":"))

        async def push(client: aioredis.Redis) -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.lpush(key, payload)
                pipe.ltrim(key, 0, METRICS_HISTORY_LENGTH - 1)
                await pipe.execute()

        await self.run(push)
