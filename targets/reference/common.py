"""What both runtimes of the reference stack share: resource names and the readiness wait."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from chaosgate.exceptions import TargetError
from injectors.toxiproxy import SERVER_RESOURCE
from injectors.websocket.process import WebSocketProxyProcess

EVENTS_PATH = "/api/v1/events"
HEALTH_PATH = "/api/v1/system/health"
CHAOS_PATH = "/api/v1/chaos"
PROXIES = ("postgres", "redis", "api")


def resources_common(
    toxiproxy_url: str, wsproxy: WebSocketProxyProcess, chaos_token: str, api_direct_url: str
) -> dict[str, str]:
    """The names scenarios use, the same in both runtimes.

    ``toxiproxy`` → the Toxiproxy API; ``proxy:<role>`` → Toxiproxy proxy;
    ``wsproxy:events`` → the frame proxy's control URL and ``ws_url:events`` → where
    WebSocket clients connect through it; the chaos control endpoint and the API itself
    are given directly (not through the `api` proxy), so an app fault can be reverted
    while the proxy is down.
    """
    return {
        SERVER_RESOURCE: toxiproxy_url,
        **{f"proxy:{role}": role for role in PROXIES},
        **wsproxy.resources,
        "ws_url:events": wsproxy.url + EVENTS_PATH,
        "chaos_url": api_direct_url + CHAOS_PATH,
        "chaos_token": chaos_token,
        "api_direct_url": api_direct_url,
    }


def wait_healthy(base_url: str, timeout: float, log_tail: Callable[[], str]) -> None:
    """Wait until `GET /api/v1/system/health` answers 200 through the `api` proxy."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(base_url=base_url, timeout=3.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(HEALTH_PATH)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as error:
                last = repr(error)
            time.sleep(0.2)
    raise TargetError(
        f"the reference API at {base_url} was not healthy within {timeout:.0f}s ({last}); "
        f"last log lines:\n{log_tail()}"
    )
