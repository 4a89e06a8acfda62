"""chaosgate's own client for the Toxiproxy 2.x REST API.

Why not ``toxiproxy-python`` (0.1.1) directly: every request it makes goes
through ``toxiproxy.api.APIConsumer``, whose host and port are *class*
attributes shared by every object in the process (``update_api_consumer``
rewrites them for everyone), and it calls ``requests`` without a timeout, with
no way to pass one through ``Proxy``/``Toxiproxy`` methods. None of its calls
can therefore be made safely from an engine that may talk to two servers or
must never hang on a wedged one, so this module speaks the documented REST API
with httpx instead. It keeps the library's vocabulary (proxies, toxics,
streams, toxicity) and fills its gaps: a toxic update (``POST
/proxies/{proxy}/toxics/{toxic}``), ``version()`` as ``str``, and a timeout on
every call.

Errors are translated here, at the boundary:

* the server cannot be reached (connection refused or connect timeout) →
  :class:`~chaosgate.exceptions.ComponentMissing`, because the fix is to
  install or start ``toxiproxy-server`` (``chaosgate doctor`` says how);
* anything else (HTTP 4xx/5xx, read timeouts, malformed answers) →
  :class:`~chaosgate.exceptions.InjectorError`, with the method, path and the
  server's own message; 404 and 409 get the subclasses
  :class:`ToxiproxyNotFound` and :class:`ToxiproxyConflict` so callers can
  tolerate "already gone" and retry "name taken" without parsing text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx

from chaosgate.exceptions import ComponentMissing, InjectorError

DEFAULT_URL = "http://127.0.0.1:8474"
DEFAULT_TIMEOUT = 5.0

Stream = Literal["downstream", "upstream"]


class ToxiproxyNotFound(InjectorError):
    """The proxy or toxic named in the request does not exist (HTTP 404)."""


class ToxiproxyConflict(InjectorError):
    """A proxy or toxic with that name already exists (HTTP 409)."""


@dataclass(frozen=True)
class Toxic:
    """A toxic as the server reports it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Toxic:
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            stream=str(data.get("stream", "downstream")),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class Proxy:
    """A proxy as the server reports it, with its active toxics."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @property
    def listen_host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proxy:
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            enabled=bool(data.get("enabled", True)),
            toxics=tuple(Toxic.from_json(t) for t in data.get("toxics") or ()),
        )


def _path(*parts: str) -> str:
    """Names go into the URL path, so each is quoted (spaces and `%` are fine, see `_check_name`)."""
    return "/" + "/".join(quote(part, safe="") for part in parts)


def _check_name(kind: str, name: str) -> None:
    """The server creates a proxy or toxic named `a/b` but its router can never address it again."""
    if not name or "/" in name:
        raise InjectorError(f"Toxiproxy {kind} {name!r} is empty or has a `/`: the API cannot address that")


class ToxiproxyClient:
    """One Toxiproxy server, addressed by URL; instances share no state."""

    def __init__(self, base_url: str = DEFAULT_URL, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            trust_env=False,
            verify=False,  # noqa: S501 - a plain-http API on loopback: no CA bundle to load
        )

    # -- plumbing ---------------------------------------------------------------------------------

    def _request(self, method: str, path: str, json: Mapping[str, Any] | None = None) -> Any:
        where = f"Toxiproxy at {self.base_url}: {method} {path}"
        try:
            response = self._http.request(method, path, json=json)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise ComponentMissing(
                f"{where} failed: the server is not reachable ({error}); start `toxiproxy-server` "
                "or run `chaosgate doctor`"
            ) from error
        except httpx.TimeoutException as error:
            raise InjectorError(f"{where} did not answer within {self.timeout:g}s") from error
        except httpx.HTTPError as error:
            raise InjectorError(f"{where} failed: {error}") from error
        if response.status_code >= 400:
            self._raise_for_status(where, response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    @staticmethod
    def _raise_for_status(where: str, response: httpx.Response) -> None:
        try:
            detail = str(response.json().get("error", response.text))
        except (ValueError, AttributeError):
            detail = response.text.strip() or response.reason_phrase
        message = f"{where} failed: HTTP {response.status_code} {detail}"
        if response.status_code == 404:
            raise ToxiproxyNotFound(message)
        if response.status_code == 409:
            raise ToxiproxyConflict(message)
        raise InjectorError(message)

    def _json_object(self, method: str, path: str, json: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data = self._request(method, path, json)
        if not isinstance(data, dict):
            where = f"Toxiproxy at {self.base_url}: {method} {path}"
            raise InjectorError(f"{where} answered {data!r}, not a JSON object")
        return data

    # -- server -----------------------------------------------------------------------------------

    def version(self) -> str:
        """The server version as text (2.12 answers JSON, 2.1 answered plain text)."""
        data = self._request("GET", "/version")
        if isinstance(data, dict):
            return str(data.get("version", "")).strip()
        return str(data or "").strip()

    def reset(self) -> None:
        """Enable every proxy and remove every toxic, chaosgate's or not."""
        self._request("POST", "/reset")

    # -- proxies ----------------------------------------------------------------------------------

    def list_proxies(self) -> dict[str, Proxy]:
        data = self._json_object("GET", "/proxies")
        return {name: Proxy.from_json(value) for name, value in sorted(data.items())}

    def get_proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._json_object("GET", _path("proxies", name)))

    def create_proxy(
        self, name: str, upstream: str, listen: str = "127.0.0.1:0", *, enabled: bool = True
    ) -> Proxy:
        """Create a proxy; port 0 in `listen` lets the server pick one (read it from the result)."""
        _check_name("proxy", name)
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return Proxy.from_json(self._json_object("POST", "/proxies", body))

    def delete_proxy(self, name: str, *, missing_ok: bool = False) -> bool:
        """Delete a proxy; False (instead of an error) when it was already gone and `missing_ok`."""
        try:
            self._request("DELETE", _path("proxies", name))
        except ToxiproxyNotFound:
            if missing_ok:
                return False
            raise
        return True

    def set_enabled(self, name: str, enabled: bool) -> Proxy:
        return Proxy.from_json(self._json_object("POST", _path("proxies", name), {"enabled": enabled}))

    def enable_proxy(self, name: str) -> Proxy:
        return self.set_enabled(name, True)

    def disable_proxy(self, name: str) -> Proxy:
        """Take the proxy down: it stops listening and drops every open connection."""
        return self.set_enabled(name, False)

    # -- toxics -----------------------------------------------------------------------------------

    def list_toxics(self, proxy: str) -> list[Toxic]:
        data = self._request("GET", _path("proxies", proxy, "toxics"))
        if not isinstance(data, list):
            where = f"Toxiproxy at {self.base_url}: GET toxics of {proxy}"
            raise InjectorError(f"{where} answered {data!r}, not a JSON list")
        return [Toxic.from_json(item) for item in data]

    def add_toxic(
        self,
        proxy: str,
        *,
        name: str,
        type: str,
        attributes: Mapping[str, Any],
        stream: Stream = "downstream",
        toxicity: float = 1.0,
    ) -> Toxic:
        _check_name("toxic", name)
        body = {
            "name": name,
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes),
        }
        return Toxic.from_json(self._json_object("POST", _path("proxies", proxy, "toxics"), body))

    def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        toxicity: float | None = None,
    ) -> Toxic:
        """Change a live toxic in place (the library has no PATCH); omitted fields keep their value."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        return Toxic.from_json(self._json_object("POST", _path("proxies", proxy, "toxics", name), body))

    def remove_toxic(self, proxy: str, name: str, *, missing_ok: bool = False) -> bool:
        """Remove a toxic; False (instead of an error) when it or its proxy was gone and `missing_ok`."""
        try:
            self._request("DELETE", _path("proxies", proxy, "toxics", name))
        except ToxiproxyNotFound:
            if missing_ok:
                return False
            raise
        return True

    # -- lifetime ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.base_url!r}, timeout={self.timeout:g})"
