"""The proxy's control API: a deliberately small HTTP/1.1 server on its own port.

One request per connection (the response says ``Connection: close``), JSON
in and out, bounded in size and time, so a stuck or hostile caller cannot
hold the proxy. Routes (the `websocket` injector's client speaks them):

===========================  ===========================================================
GET    /health               ``{"status": "ok", "upstream", "listen", "connections", "faults"}``
GET    /faults               ``{"faults": [fault, ...]}`` with counters, in the order added
GET    /faults/{name}        one fault, 404 if there is none by that name
POST   /faults               body ``{"name", "kind", ...}``: 201 and the fault; 400 when the
                             body is not a valid fault (the message says why); 409 when the
                             name is taken
DELETE /faults/{name}        200 and the fault with its final counters; 404 if unknown
DELETE /faults               200 ``{"removed": [name, ...]}``
===========================  ===========================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from injectors.websocket.faults import FAULT_ADAPTER, NAME_PATTERN
from injectors.websocket.registry import ActiveFault, FaultRegistry

log = logging.getLogger("chaosgate.wsproxy.control")

MAX_HEAD = 16 * 1024
MAX_BODY = 256 * 1024
READ_TIMEOUT = 5.0

Reply = tuple[int, dict[str, Any]]
Handler = Callable[[str, str, bytes], Awaitable[Reply]]


class ControlApi:
    """The routes above, over a fault registry and a function that reports the proxy's state."""

    def __init__(self, registry: FaultRegistry, health: Callable[[], dict[str, Any]]) -> None:
        self.registry = registry
        self.health = health

    async def __call__(self, method: str, path: str, body: bytes) -> Reply:
        parts = [unquote(part) for part in urlsplit(path).path.strip("/").split("/") if part]
        if parts == ["health"] and method == "GET":
            return 200, {"status": "ok", **self.health()}
        if not parts or parts[0] != "faults" or len(parts) > 2:
            return 404, {"error": f"no route {method} {path}"}
        if len(parts) == 1:
            if method == "GET":
                return 200, {"faults": [each.to_json() for each in self.registry.faults()]}
            if method == "POST":
                return self._add(body)
            if method == "DELETE":
                removed = self.registry.clear()
                for gone in removed:
                    log.info("fault %s removed (all): %s", gone.name, dict(gone.counters))
                return 200, {"removed": [gone.name for gone in removed]}
            return 405, {"error": f"{method} is not allowed on /faults"}
        name = parts[1]
        fault: ActiveFault | None
        if method == "GET":
            fault = self.registry.get(name)
        elif method == "DELETE":
            fault = self.registry.remove(name)
            if fault is not None:
                log.info("fault %s removed: %s", name, dict(fault.counters))
        else:
            return 405, {"error": f"{method} is not allowed on /faults/{{name}}"}
        if fault is None:
            return 404, {"error": f"no fault named {name!r}"}
        return 200, fault.to_json()

    def _add(self, body: bytes) -> Reply:
        try:
            data = json.loads(body or b"null")
        except ValueError as error:
            return 400, {"error": f"the body is not JSON: {error}"}
        if not isinstance(data, dict):
            return 400, {"error": "the body must be a JSON object {name, kind, ...}"}
        name = data.pop("name", None)
        if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
            return 400, {"error": f"`name` must match {NAME_PATTERN}, got {name!r}"}
        try:
            spec = FAULT_ADAPTER.validate_python(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'fault'}: {e['msg']}" for e in error.errors()
            )
            return 400, {"error": f"invalid fault: {problems}"}
        try:
            fault = self.registry.add(name, spec)
        except KeyError:
            return 409, {"error": f"a fault named {name!r} exists already"}
        log.info("fault %s added: %s", name, spec.summary())
        return 201, fault.to_json()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEAD:
        raise ValueError("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length":
            length = int(value.strip())
    if not 0 <= length <= MAX_BODY:
        raise ValueError(f"body of {length} bytes is not accepted")
    body = await reader.readexactly(length) if length else b""
    return method.upper(), target, body


async def _serve_one(handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        try:
            method, target, body = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT)
        except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as error:
            status, payload = 400, {"error": f"bad request: {error}"}
        else:
            status, payload = await handler(method, target, body)
        data = json.dumps(payload).encode()
        reason = HTTPStatus(status).phrase
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
        )
        await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
    except (OSError, TimeoutError):
        pass  # the caller went away; nothing to answer
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)


async def serve_control(handler: Handler, host: str, port: int) -> asyncio.Server:
    """Listen on host:port and answer each request with `handler(method, path, body)`."""
    return await asyncio.start_server(
        lambda reader, writer: _serve_one(handler, reader, writer), host, port, limit=MAX_HEAD
    )
