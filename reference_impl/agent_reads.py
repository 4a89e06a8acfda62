"""Reading agents with fallbacks: PostgreSQL, else the offline queue, else the Redis cache.

Shared by the agent routes. Why the order: PostgreSQL is the truth; an agent
accepted during a partition lives only in the offline queue until synced (and
must not look "not found"); the cache is the last resort and is always
labelled ``X-Data-Freshness: stale`` with its ``Age``.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from fastapi import Response

from reference_impl import agent_store
from reference_impl.agent_store import KIND_CREATE
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import ApiError, ErrorCategory, RecoveryOption
from reference_impl.runtime import Runtime
from reference_impl.schemas.agents import Agent

CACHE_REFRESH_SECONDS = 1.0
FRESHNESS_HEADERS: dict[str, Any] = {
    "X-Data-Freshness": {
        "description": "`fresh` from PostgreSQL, `stale` from the cache during a database fault.",
        "schema": {"type": "string", "enum": ["fresh", "stale"]},
        "required": True,
    },
    "Age": {
        "description": "Seconds since the stale copy was taken (only with `X-Data-Freshness: stale`).",
        "schema": {"type": "integer", "minimum": 0},
        "required": False,
    },
}
LOCATION_HEADER: dict[str, Any] = {
    "Location": {"description": "URL of the agent.", "schema": {"type": "string"}, "required": True},
}


def list_key(limit: int, offset: int) -> str:
    return f"prism:cache:agents:list:{limit}:{offset}"


def agent_key(agent_id: str) -> str:
    return f"prism:cache:agent:{agent_id}"


async def cache_put(runtime: Runtime, key: str, value: Any, *, throttle: bool) -> None:
    """Best-effort cache write; throttled on read paths so a hot list costs one write per second."""
    written = runtime.cache_written_at
    now = time.monotonic()
    if throttle and now - written.get(key, -math.inf) < CACHE_REFRESH_SECONDS:
        return
    if len(written) > 10_000:
        written.clear()
    written[key] = now
    try:
        await runtime.redis.cache_put(key, value)
    except DependencyUnavailable:
        written.pop(key, None)


def mark_stale(response: Response, runtime: Runtime, age: float, what: str) -> None:
    response.headers["X-Data-Freshness"] = "stale"
    response.headers["Age"] = str(int(age))
    runtime.telemetry.count("stale_response", what)


def unavailable(exc: DependencyUnavailable, what: str) -> ApiError:
    return ApiError(
        503,
        ErrorCategory.NETWORK if exc.timed_out else ErrorCategory.EXTERNAL_DEPENDENCY,
        "agents_unavailable",
        f"PostgreSQL is unavailable ({exc.reason}) and {what}",
        recovery_options=[
            RecoveryOption(
                action="retry_after_delay",
                success_probability=0.8,
                description="Retry after Retry-After; the service probes for recovery.",
            )
        ],
        eta_seconds=round(exc.retry_after, 3),
    )


def not_found(agent_id: uuid.UUID) -> ApiError:
    return ApiError(
        404,
        ErrorCategory.NOT_FOUND,
        "agent_not_found",
        f"no agent with id {agent_id}",
        recovery_options=[
            RecoveryOption(
                action="list_agents",
                success_probability=0.9,
                description="GET /api/v1/agents to find valid ids.",
            )
        ],
    )


async def load_agent(runtime: Runtime, agent_id: uuid.UUID, response: Response) -> Agent:
    """One agent: PostgreSQL, else the offline queue (pending), else the cache (stale), else 503/404."""
    key = str(agent_id)
    try:
        record = await agent_store.get_agent(runtime.db, agent_id)
    except DependencyUnavailable as exc:
        queued = runtime.queue.find(KIND_CREATE, key)
        if queued is not None:
            mark_stale(response, runtime, time.time() - queued.enqueued_at, "agent")
            return agent_store.agent_from_record(queued.payload, sync_state="pending_sync")
        try:
            cached = await runtime.redis.cache_get(agent_key(key))
        except DependencyUnavailable:
            cached = None
        if cached is None:
            raise unavailable(exc, "this agent is not in the cache") from exc
        mark_stale(response, runtime, cached.age_seconds, "agent")
        return agent_store.agent_from_record(cached.value)
    response.headers["X-Data-Freshness"] = "fresh"
    if record is None:
        queued = runtime.queue.find(KIND_CREATE, key)
        if queued is None:
            raise not_found(agent_id)
        return agent_store.agent_from_record(queued.payload, sync_state="pending_sync")
    await cache_put(runtime, agent_key(key), record, throttle=True)
    return agent_store.agent_from_record(record)
