"""The application factory: ``uvicorn reference_impl.app:create_app --factory``.

Start-up order matters for resilience: the offline queue file opens first
(accepted writes from a previous run are synced as soon as possible), the
PostgreSQL pool and Redis client are created without connecting, then
migrations run with a bounded wait. If PostgreSQL is still away the service
starts anyway, degraded, and the background worker applies the migrations
when it returns — a dependency outage at boot must not become an outage of
the whole API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from reference_impl import __version__, error_handlers
from reference_impl.audit import AuditMiddleware
from reference_impl.background import BackgroundWorkers
from reference_impl.fast_path import AgentListFastPath
from reference_impl.guards import GUARD_HEADER_SCHEMAS, REPLAYED_HEADER, IdempotencyMiddleware
from reference_impl.migrations import migrate
from reference_impl.routers import agents, audit, auth, chaos, events, metrics, policies, sync, system, tasks
from reference_impl.runtime import Runtime
from reference_impl.settings import Settings
from reference_impl.snapshots import InvalidateOnWrite
from reference_impl.telemetry import TelemetryMiddleware

log = logging.getLogger("prism")

DESCRIPTION = """
The PRISM agent-management API: the reference system under test of chaosgate.

Every non-2xx response carries the error envelope (`error.category`,
`incident_id`, `recovery_options`, `functionality`, `eta_seconds`). During
dependency faults the API degrades instead of failing: stale reads from the
cache (`X-Data-Freshness: stale`, `Age`), writes accepted into a durable
offline queue (202), and a capability matrix in `GET /api/v1/system/health`.
"""


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app; settings default to the environment (see :mod:`reference_impl.settings`)."""
    _configure_logging()
    settings = Settings.from_env() if settings is None else settings
    runtime = Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.queue.open()
        await runtime.db.open()
        await runtime.redis.open()
        migrated = True
        try:
            applied = await migrate(settings)
            log.info("database ready (migrations applied now: %s)", applied or "none")
        except Exception as exc:  # noqa: BLE001 - start degraded; the worker retries
            migrated = False
            log.error("starting degraded: PostgreSQL unreachable at start-up (%s)", exc)
        workers = BackgroundWorkers(runtime, migrated=migrated)
        workers.start()
        try:
            yield
        finally:
            await workers.stop()
            try:
                async with asyncio.timeout(2.0):
                    await runtime.events.flush()
            except TimeoutError:
                log.warning("shutting down with %d events not yet in Redis", runtime.events.outbox_depth)
            await runtime.db.close()
            await runtime.redis.close()
            runtime.queue.close()

    app = FastAPI(
        title="PRISM agent-management API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    error_handlers.install(app)
    app.add_middleware(InvalidateOnWrite, snapshots=runtime.snapshots)
    app.add_middleware(IdempotencyMiddleware, runtime=runtime)
    app.add_middleware(AuditMiddleware, trail=runtime.audit)
    app.add_middleware(AgentListFastPath, runtime=runtime, routes=app.routes)
    app.add_middleware(TelemetryMiddleware, telemetry=runtime.telemetry)
    for module in (system, auth, agents, tasks, events, metrics, audit, policies, sync):
        app.include_router(module.router)
    if settings.chaos_enabled:  # R3.5: the fault hooks exist only when asked for at start-up
        app.include_router(chaos.router)
    _declare_guard_responses(app)
    return app


_GUARD_ERRORS = {
    "403": "Forbidden by role, or replay protection failed (expired timestamp, incomplete headers).",
    "409": "Replayed nonce, or Idempotency-Key reused with another body / still in progress.",
    "422": "Invalid input: per-field errors with suggested fixes in `error.details`.",
}


def _declare_guard_responses(app: FastAPI) -> None:
    """Operations with the replay/idempotency guard declare its statuses and the replay header.

    The guard is one dependency shared by every mutating route, so its part of the contract is added
    here once instead of being repeated (and forgotten) in each route's `responses=`.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for item in schema["paths"].values():
            for operation in item.values():
                parameters = operation.get("parameters", [])
                if not any(parameter.get("name") == "X-Request-Nonce" for parameter in parameters):
                    continue
                for parameter in parameters:
                    if parameter.get("in") == "header" and parameter["name"] in GUARD_HEADER_SCHEMAS:
                        description = parameter["schema"].get("description")
                        parameter["schema"] = {**GUARD_HEADER_SCHEMAS[parameter["name"]]}
                        if description:
                            parameter["description"] = description
                responses = operation["responses"]
                for status, description in _GUARD_ERRORS.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
                            },
                        },
                    )
                for status, response in responses.items():
                    if int(status) < 500:
                        response.setdefault("headers", {}).update(REPLAYED_HEADER)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
