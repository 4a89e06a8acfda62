"""The hot read, short-circuited: ``GET /api/v1/agents`` answered from a snapshot before routing.

A snapshot hit (see :mod:`reference_impl.snapshots`) still went through
FastAPI's routing and dependency resolution, which costs more than the answer
itself. This pure ASGI middleware serves the hit directly, but only when the
outcome is certain to be the same as the full route's: a bearer token that
verifies with role viewer or higher, a query of nothing but valid ``limit`` /
``offset``, no emergency policy active, the PostgreSQL breaker closed and no
injected calculation fault. In every other case (including every error) it
steps aside and the route answers, so the contract has one implementation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from reference_impl.auth import verify_access_token
from reference_impl.breakers import BreakerState
from reference_impl.chaos import Fault
from reference_impl.errors import ApiError
from reference_impl.runtime import Runtime

PATH = "/api/v1/agents"
_HEADERS = [(b"content-type", b"application/json"), (b"x-data-freshness", b"fresh")]


def _page(query: bytes) -> tuple[int, int] | None:
    limit, offset = 50, 0
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if not value.isdigit() or len(value) > 7:
            return None
        if name == "limit":
            limit = int(value)
        elif name == "offset":
            offset = int(value)
        else:
            return None
    if not 1 <= limit <= 500 or not 0 <= offset <= 1_000_000:
        return None
    return limit, offset


class AgentListFastPath:
    def __init__(self, app: ASGIApp, runtime: Runtime, routes: Any) -> None:
        self.app = app
        self.runtime = runtime
        self.routes = routes  # the app's routes, for the telemetry label of the route template
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PATH:
            body = self._hit(scope)
            if body is not None:
                if self._route is None:
                    self._route = next(
                        (r for r in self.routes if getattr(r, "path", None) == PATH and "GET" in r.methods),
                        None,
                    )
                scope["route"] = self._route
                headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _hit(self, scope: Scope) -> bytes | None:
        runtime = self.runtime
        if (
            runtime.db.breaker.state is not BreakerState.CLOSED
            or any(policy.active for policy in runtime.policies.items.values())
            or runtime.chaos.active(Fault.METRICS_CALCULATION_FAILURE) is not None
        ):
            return None
        page = _page(scope.get("query_string", b""))
        if page is None:
            return None
        token: str | None = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and credentials.strip():
                    token = credentials.strip()
                break
        if token is None:
            return None
        try:
            principal = verify_access_token(runtime, token)
        except ApiError:
            return None
        if not principal.at_least("viewer"):
            return None
        return runtime.snapshots.get(page, (runtime.queue.enqueued_total, runtime.queue.synced_total))
