"""``/api/v1/agents``: registration, listing, configuration and heartbeats, with degraded modes.

Degraded behaviour (R9 rows 1-3 and 8+):

* reads fall back to the Redis cache when PostgreSQL times out or is down,
  answering 200 with ``X-Data-Freshness: stale`` and ``Age``;
* registrations and heartbeats fall back to the durable offline queue,
  answering 202; the sync worker writes them when PostgreSQL returns;
* anything that needs PostgreSQL and has no fallback answers 503 with the
  envelope and ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse

from reference_impl import agent_store
from reference_impl.agent_reads import (
    FRESHNESS_HEADERS,
    LOCATION_HEADER,
    agent_key,
    cache_put,
    list_key,
    load_agent,
    mark_stale,
    not_found,
    unavailable,
)
from reference_impl.agent_store import KIND_CREATE, KIND_HEARTBEAT
from reference_impl.auth import Admin, Operator, Viewer
from reference_impl.breakers import BreakerState
from reference_impl.chaos import Fault
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import ApiError, ErrorCategory, RecoveryOption, error_responses
from reference_impl.guards import Guarded
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.schemas.agents import (
    Agent,
    AgentAccepted,
    AgentConfig,
    AgentConfigDocument,
    AgentCreate,
    AgentList,
    AgentListMetrics,
    ConfigQueued,
    Heartbeat,
    HeartbeatAck,
    HeartbeatQueued,
)
from reference_impl.storage_integrity import ensure_writable

router = APIRouter(prefix="/api/v1/agents", tags=["agents"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
AgentId = Annotated[uuid.UUID, Path(description="The agent's id (a UUID).")]


@router.get(
    "",
    response_model=AgentList,
    summary="List agents",
    responses={
        200: {"headers": FRESHNESS_HEADERS},
        206: {
            "model": AgentList,
            "headers": FRESHNESS_HEADERS,
            "description": "Partial metrics failure: every item, `metrics` null, and `warnings`.",
        },
        **error_responses(401, 403, 422, 503),
    },
)
async def list_agents(
    response: Response,
    runtime: RuntimeDep,
    _caller: Viewer,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """Oldest first. During a database fault: 200 from the cache with `X-Data-Freshness: stale` and `Age`."""
    snapshots = runtime.snapshots
    page_key = (limit, offset)
    marks = (runtime.queue.enqueued_total, runtime.queue.synced_total)
    calculation_failed = runtime.chaos.active(Fault.METRICS_CALCULATION_FAILURE) is not None
    if not calculation_failed and runtime.db.breaker.state is BreakerState.CLOSED:
        body = snapshots.get(page_key, marks)
        if body is not None:  # confirmed current by PostgreSQL (see reference_impl.snapshots)
            return Response(body, media_type="application/json", headers={"X-Data-Freshness": "fresh"})
    generation = snapshots.generation
    key = list_key(limit, offset)
    pending = runtime.queue.count(KIND_CREATE)
    try:
        records = await agent_store.list_agents(runtime.db, limit, offset)
    except DependencyUnavailable as exc:
        try:
            cached = await runtime.redis.cache_get(key)
        except DependencyUnavailable:
            cached = None
        if cached is None:
            raise unavailable(exc, "no cached copy of this page is available") from exc
        mark_stale(response, runtime, cached.age_seconds, "agents")
        items = [agent_store.agent_from_record(record) for record in cached.value]
        page = _with_metrics(
            runtime,
            response,
            AgentList(
                items=items,
                limit=limit,
                offset=offset,
                freshness="stale",
                cached_at=datetime.fromtimestamp(cached.stored_at, UTC),
                pending_sync=pending,
            ),
        )
        return _page_response(page, response)
    response.headers["X-Data-Freshness"] = "fresh"
    await cache_put(runtime, key, records, throttle=True)
    page = _with_metrics(
        runtime,
        response,
        AgentList(
            items=[agent_store.agent_from_record(record) for record in records],
            limit=limit,
            offset=offset,
            freshness="fresh",
            cached_at=None,
            pending_sync=pending,
        ),
    )
    reply = _page_response(page, response)
    if reply.status_code == 200:
        snapshots.put(page_key, bytes(reply.body), generation, marks)
    return reply


def _page_response(page: AgentList, response: Response) -> Response:
    """Serialise once (the model is already valid) with the headers and status set on ``response``."""
    headers = {
        k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
    }
    return Response(
        page.model_dump_json().encode(),
        status_code=response.status_code or 200,
        media_type="application/json",
        headers=headers,
    )


HEARTBEAT_OVERDUE_INTERVALS = 3


def _with_metrics(runtime: Runtime, response: Response, page: AgentList) -> AgentList:
    """Add the page's derived figures; on a calculation failure answer 206 without them (R9 row 2)."""
    if runtime.chaos.active(Fault.METRICS_CALCULATION_FAILURE) is not None:
        response.status_code = 206
        page.warnings.append(
            "agent metrics could not be calculated; `metrics` is omitted, items are complete"
        )
        runtime.telemetry.count("partial_response", "agents")
        return page
    now = datetime.now(UTC)
    by_status: dict[str, int] = {}
    overdue = 0
    oldest: float | None = None
    for agent in page.items:
        by_status[agent.status] = by_status.get(agent.status, 0) + 1
        if agent.last_heartbeat_at is None:
            continue
        age = (now - agent.last_heartbeat_at).total_seconds()
        oldest = age if oldest is None else max(oldest, age)
        if age > HEARTBEAT_OVERDUE_INTERVALS * agent.config.heartbeat_interval_seconds:
            overdue += 1
    page.metrics = AgentListMetrics(
        by_status=by_status,
        heartbeat_overdue=overdue,
        oldest_heartbeat_age_seconds=None if oldest is None else round(oldest, 3),
    )
    return page


@router.post(
    "",
    dependencies=[Guarded],
    status_code=201,
    response_model=Agent,
    summary="Register an agent",
    responses={
        201: {"headers": LOCATION_HEADER},
        202: {
            "model": AgentAccepted,
            "headers": LOCATION_HEADER,
            "description": "PostgreSQL unavailable: accepted into the durable offline queue.",
        },
        **error_responses(401, 403, 422, 503),
    },
)
async def create_agent(body: AgentCreate, response: Response, runtime: RuntimeDep, _caller: Operator) -> Any:
    """201 when written; 202 when PostgreSQL is unreachable (queued durably, synced on recovery)."""
    ensure_writable(runtime)
    record = agent_store.new_agent_record(body)
    location = f"/api/v1/agents/{record['id']}"
    exhausted = runtime.chaos.active(Fault.RESOURCE_EXHAUSTION)
    if exhausted is not None:
        await _queue_for_capacity(runtime, record, exhausted.remaining(), location)
    try:
        await agent_store.insert_agent(runtime.db, record)
    except DependencyUnavailable as exc:
        depth = await runtime.queue.enqueue(KIND_CREATE, record["id"], record)
        runtime.telemetry.count("queued_write", KIND_CREATE)
        accepted = AgentAccepted(
            id=uuid.UUID(record["id"]),
            status="pending_sync",
            queue_depth=depth,
            eta_seconds=round(max(exc.retry_after, runtime.settings.sync_interval) + depth * 0.005, 3),
            message="PostgreSQL is unavailable; the agent is stored durably and will be synced on recovery",
        )
        return JSONResponse(accepted.model_dump(mode="json"), status_code=202, headers={"Location": location})
    response.headers["Location"] = location
    await cache_put(runtime, agent_key(record["id"]), record, throttle=False)
    runtime.events.publish("agent.created", {"agent_id": record["id"], "name": record["name"]})
    return agent_store.agent_from_record(record)


async def _queue_for_capacity(
    runtime: Runtime, record: dict[str, Any], busy_for: float, location: str
) -> None:
    """Resource exhaustion: keep the agent (queued durably) but tell the client to back off (503)."""
    depth = await runtime.queue.enqueue(KIND_CREATE, record["id"], record)
    runtime.telemetry.count("queued_write", "capacity_exhausted")
    eta = round(busy_for + runtime.settings.sync_interval + depth * 0.005, 3)
    raise ApiError(
        503,
        ErrorCategory.RESOURCE_EXHAUSTION,
        "capacity_exhausted",
        f"the service is out of capacity; agent {record['id']} was queued and is created in about {eta:.0f}s",
        recovery_options=[
            RecoveryOption(
                action="poll_queued_resource",
                success_probability=0.9,
                description="GET the Location (or error.reference) after eta_seconds; do not resend.",
            ),
            RecoveryOption(
                action="retry_after_delay",
                success_probability=0.8,
                description="Send further registrations after Retry-After.",
            ),
        ],
        eta_seconds=eta,
        headers={"Retry-After": str(max(1, math.ceil(eta))), "Location": location},
        reference=record["id"],
    )


@router.get(
    "/{agent_id}",
    response_model=Agent,
    summary="Get one agent",
    responses={200: {"headers": FRESHNESS_HEADERS}, **error_responses(401, 403, 404, 422, 503)},
)
async def get_agent(agent_id: AgentId, response: Response, runtime: RuntimeDep, _caller: Viewer) -> Agent:
    """Falls back to the offline queue (not yet synced) or the cache (stale) during a database fault."""
    return await load_agent(runtime, agent_id, response)


@router.delete(
    "/{agent_id}",
    dependencies=[Guarded],
    status_code=204,
    response_class=Response,
    summary="Delete an agent (admin)",
    responses={204: {"description": "Deleted."}, **error_responses(401, 403, 404, 422, 503)},
)
async def delete_agent(agent_id: AgentId, runtime: RuntimeDep, _caller: Admin) -> Response:
    ensure_writable(runtime)
    if not await agent_store.delete_agent(runtime.db, agent_id):
        raise not_found(agent_id)
    with contextlib.suppress(DependencyUnavailable):
        await runtime.redis.cache_delete(agent_key(str(agent_id)))
    runtime.events.publish("agent.deleted", {"agent_id": str(agent_id)})
    return Response(status_code=204)


@router.get(
    "/{agent_id}/config",
    response_model=AgentConfigDocument,
    summary="Get an agent's configuration",
    responses={200: {"headers": FRESHNESS_HEADERS}, **error_responses(401, 403, 404, 422, 503)},
)
async def get_config(
    agent_id: AgentId, response: Response, runtime: RuntimeDep, _caller: Viewer
) -> AgentConfigDocument:
    return _config_document(await load_agent(runtime, agent_id, response))


def _config_document(agent: Agent) -> AgentConfigDocument:
    return AgentConfigDocument(
        agent_id=agent.id,
        config=agent.config,
        config_version=agent.config_version,
        updated_at=agent.updated_at,
        pending_config=agent.pending_config,
    )


@router.put(
    "/{agent_id}/config",
    dependencies=[Guarded],
    response_model=AgentConfigDocument,
    summary="Replace an agent's configuration",
    responses={
        202: {"model": ConfigQueued, "description": "The agent is busy: stored, applied when it is idle."},
        **error_responses(401, 403, 404, 422, 503),
    },
)
async def put_config(agent_id: AgentId, body: AgentConfig, runtime: RuntimeDep, _caller: Operator) -> Any:
    """Invalid values get 422 with per-field errors and suggested fixes in `error.details`."""
    ensure_writable(runtime)
    if runtime.chaos.active(Fault.AGENT_BUSY, str(agent_id)) is not None:
        parked = await agent_store.queue_config(runtime.db, agent_id, body)
        if parked is None:
            raise not_found(agent_id)
        queued = ConfigQueued(
            agent_id=agent_id,
            status="pending_application",
            pending_config=body,
            queued_at=parked["pending_config_at"],
            message="the agent is busy; the configuration is applied as soon as it is idle",
        )
        return JSONResponse(queued.model_dump(mode="json"), status_code=202)
    record = await agent_store.update_config(runtime.db, agent_id, body)
    if record is None:
        raise not_found(agent_id)
    await cache_put(runtime, agent_key(record["id"]), record, throttle=False)
    runtime.events.publish(
        "agent.config.updated", {"agent_id": record["id"], "config_version": record["config_version"]}
    )
    return _config_document(agent_store.agent_from_record(record))


@router.post(
    "/{agent_id}/heartbeat",
    dependencies=[Guarded],
    response_model=HeartbeatAck,
    summary="Report an agent's liveness",
    responses={
        202: {"model": HeartbeatQueued, "description": "PostgreSQL unavailable: queued durably."},
        **error_responses(401, 403, 404, 422, 503),
    },
)
async def heartbeat(agent_id: AgentId, body: Heartbeat, runtime: RuntimeDep, _caller: Operator) -> Any:
    ensure_writable(runtime)
    received = datetime.now(UTC)
    sample = {**body.model_dump(mode="json"), "received_at": received.isoformat()}
    try:
        record = await agent_store.record_heartbeat(runtime.db, agent_id, body, received)
    except DependencyUnavailable:
        payload = {"heartbeat": body.model_dump(mode="json"), "received_at": received.isoformat()}
        depth = await runtime.queue.enqueue(KIND_HEARTBEAT, str(agent_id), payload)
        runtime.telemetry.count("queued_write", KIND_HEARTBEAT)
        await _observe_heartbeat(runtime, agent_id, body, sample)
        queued = HeartbeatQueued(
            agent_id=agent_id, received_at=received, status="pending_sync", queue_depth=depth
        )
        return JSONResponse(queued.model_dump(mode="json"), status_code=202)
    if record is None:
        raise not_found(agent_id)
    await _observe_heartbeat(runtime, agent_id, body, sample)
    return HeartbeatAck(
        agent_id=agent_id,
        received_at=received,
        status=record["status"],
        next_heartbeat_due_seconds=int(record["config"]["heartbeat_interval_seconds"]),
    )


async def _observe_heartbeat(
    runtime: Runtime, agent_id: uuid.UUID, body: Heartbeat, sample: dict[str, Any]
) -> None:
    """Metrics history (Redis, best effort) and a critical-health event when the agent is struggling."""
    try:
        await runtime.redis.push_history(f"prism:metrics:agent:{agent_id}", sample)
    except DependencyUnavailable:
        runtime.telemetry.count("metrics_history_skipped", "redis_unavailable")
    if body.status == "degraded" or body.cpu_percent >= 95 or body.memory_percent >= 95:
        runtime.events.publish("agent.health.critical", {"agent_id": str(agent_id), **sample})
