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

from fastapi import FastAPI

from reference_impl import __version__, error_handlers
from reference_impl.background import BackgroundWorkers
from reference_impl.migrations import migrate
from reference_impl.routers import agents, auth, chaos, events, metrics, system, tasks
from reference_impl.runtime import Runtime
from reference_impl.settings import Settings
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
    app.add_middleware(TelemetryMiddleware, telemetry=runtime.telemetry)
    for module in (system, auth, agents, tasks, events, metrics):
        app.include_router(module.router)
    if settings.chaos_enabled:  # R3.5: the fault hooks exist only when asked for at start-up
        app.include_router(chaos.router)
    return app
