"""A client of the WebSocket proxy's control API (see :mod:`injectors.websocket.control`).

httpx with a timeout on every call and without proxies from the environment.
Errors are translated here: a proxy that cannot be reached is
:class:`~chaosgate.exceptions.ComponentMissing` (start it); anything else is
:class:`~chaosgate.exceptions.InjectorError` with the proxy's own message, and
404 / 409 get subclasses so callers can tolerate "already gone" and retry
"name taken".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from chaosgate.exceptions import ComponentMissing, InjectorError

DEFAULT_TIMEOUT = 5.0
START_HINT = (
    "start it: python -m injectors.websocket.proxy --listen HOST:PORT --upstream ws://HOST:PORT "
    "--control HOST:PORT"
)


class WsProxyNotFound(InjectorError):
    """No fault by that name (HTTP 404)."""


class WsProxyConflict(InjectorError):
    """A fault by that name exists already (HTTP 409)."""


class WsProxyClient:
    """One WebSocket proxy's control API."""

    def __init__(self, control_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = control_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            trust_env=False,
            verify=False,  # noqa: S501 - a plain-http API on loopback: no CA bundle to load
        )

    def _request(self, method: str, path: str, json: Mapping[str, Any] | None = None) -> Any:
        where = f"wsproxy {method} {self.url}{path}"
        try:
            response = self._http.request(method, path, json=json)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise ComponentMissing(f"{where}: no WebSocket proxy answers ({error}); {START_HINT}") from error
        except httpx.HTTPError as error:
            raise InjectorError(f"{where}: {type(error).__name__}: {error}") from error
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:200]}
        if response.is_success:
            return body
        message = body.get("error") if isinstance(body, dict) else body
        error_type = {404: WsProxyNotFound, 409: WsProxyConflict}.get(response.status_code, InjectorError)
        raise error_type(f"{where}: HTTP {response.status_code}: {message}")

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/health")
        return result

    def list_faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._request("GET", "/faults")["faults"]
        return faults

    def get_fault(self, name: str) -> dict[str, Any]:
        fault: dict[str, Any] = self._request("GET", f"/faults/{quote(name, safe='')}")
        return fault

    def add_fault(self, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Add a fault: `spec` is a fault model's JSON (kind and its fields)."""
        fault: dict[str, Any] = self._request("POST", "/faults", {**spec, "name": name})
        return fault

    def remove_fault(self, name: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        """Remove a fault; its final counters, or None when it was gone and `missing_ok`."""
        try:
            fault: dict[str, Any] = self._request("DELETE", f"/faults/{quote(name, safe='')}")
        except WsProxyNotFound:
            if missing_ok:
                return None
            raise
        return fault

    def remove_all(self) -> list[str]:
        removed: list[str] = self._request("DELETE", "/faults")["removed"]
        return removed

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WsProxyClient({self.url!r})"
