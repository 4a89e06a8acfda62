"""A WebSocket frame proxy that injects message-level faults (R3.4), run as its own process.

    python -m injectors.websocket.proxy --listen 127.0.0.1:8765 \\
        --upstream ws://127.0.0.1:8000 --control 127.0.0.1:8766

Like Toxiproxy, it is always in the path: clients connect to ``--listen``
instead of the server, and faults are switched on and off through the HTTP
control API on ``--control`` (see :mod:`injectors.websocket.control`). With no
fault active it is a transparent relay.

For each client it opens an upstream connection *during* the client's
handshake, to the same path and query, with the client's headers (among them
``Authorization``, ``Cookie``, ``Origin`` and the offered subprotocols), so a
refusal by the server (401, 403, 404…) reaches the client as that refusal,
the subprotocol the server picks is the one the client gets, and
``Set-Cookie`` headers of the server's answer are passed back. Then a
:class:`~injectors.websocket.relay.Relay` carries the messages both ways,
server→client ones through the active faults.

Pings are hop by hop: each side's pings are answered by the proxy (except
during a silence), and the proxy sends none of its own.

Module map: ``faults`` (the fault models), ``registry`` (the faults held),
``stages`` (what each kind does to one connection's frames), ``pipeline`` (one
connection's chain of stages), ``relay`` (one connection), ``control`` (the
HTTP control API), this module (the server and the command line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from injectors.websocket.control import ControlApi, serve_control
from injectors.websocket.registry import FaultRegistry
from injectors.websocket.relay import CLOSE_TIMEOUT, Relay, SilenceableConnection

log = logging.getLogger("chaosgate.wsproxy")

NOT_FORWARDED = frozenset({
    "host", "connection", "upgrade", "keep-alive", "te", "trailer", "transfer-encoding", "content-length",
    "proxy-authorization", "proxy-connection", "user-agent", "sec-websocket-key", "sec-websocket-version",
    "sec-websocket-extensions", "sec-websocket-protocol", "sec-websocket-accept",
})
PASSED_BACK = ("Set-Cookie",)
REFUSAL_HEADERS = ("WWW-Authenticate", "Retry-After", "Location", "Set-Cookie")


class WebSocketProxy:
    """The proxy: a WebSocket server for clients, one upstream connection per client, and the faults."""

    def __init__(self, upstream: str, *, max_size: int = 16 * 2**20, open_timeout: float = 10.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.max_size = max_size
        self.open_timeout = open_timeout
        self.registry = FaultRegistry()
        self.relays: set[Relay] = set()
        self.listen = ""
        self._pending: dict[ServerConnection, ClientConnection] = {}
        self._reapers: set[asyncio.Task[None]] = set()

    def health(self) -> dict[str, Any]:
        return {
            "upstream": self.upstream, "listen": self.listen,
            "connections": len(self.relays), "faults": len(self.registry.faults()),
        }

    async def _open_upstream(self, connection: ServerConnection, request: Request) -> Response | None:
        headers = Headers()
        for key, value in request.headers.raw_items():
            if key.lower() not in NOT_FORWARDED:
                headers[key] = value
        peer = connection.remote_address[0] if connection.remote_address else ""
        forwarded = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        offered = [
            Subprotocol(name.strip())
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for name in value.split(",")
            if name.strip()
        ]
        uri = self.upstream + request.path
        try:
            upstream = await connect(
                uri, additional_headers=headers, subprotocols=offered or None, proxy=None,
                user_agent_header=request.headers.get("User-Agent"), open_timeout=self.open_timeout,
                ping_interval=None, max_size=self.max_size, close_timeout=CLOSE_TIMEOUT,
            )
        except InvalidStatus as refused:
            answer = refused.response
            response = connection.respond(answer.status_code, answer.body.decode("utf-8", "replace"))
            for name in REFUSAL_HEADERS:
                for value in answer.headers.get_all(name):
                    response.headers[name] = value
            if "Content-Type" in answer.headers:
                response.headers["Content-Type"] = answer.headers["Content-Type"]
            log.info("upstream refused %s: HTTP %s", request.path, answer.status_code)
            return response
        except (OSError, TimeoutError, InvalidHandshake) as error:
            log.warning("upstream %s unreachable: %s", uri, error)
            return connection.respond(502, f"chaosgate wsproxy: upstream {uri} unreachable: {error}\n")
        self._pending[connection] = upstream
        reaper = asyncio.get_running_loop().create_task(self._reap_if_abandoned(connection))
        self._reapers.add(reaper)  # the loop keeps only weak references to tasks
        reaper.add_done_callback(self._reapers.discard)
        return None

    async def _reap_if_abandoned(self, connection: ServerConnection) -> None:
        """The client's handshake may still fail after the upstream opened: do not leak that upstream."""
        with contextlib.suppress(asyncio.CancelledError):
            await connection.wait_closed()
        upstream = self._pending.pop(connection, None)
        if upstream is not None:
            await Relay.close(upstream, 1001, "chaosgate wsproxy: client handshake failed")

    def _pass_back(self, connection: ServerConnection, request: Request, response: Response) -> None:
        upstream = self._pending.get(connection)
        if upstream is not None and upstream.response is not None:
            for name in PASSED_BACK:
                for value in upstream.response.headers.get_all(name):
                    response.headers[name] = value

    def _select_subprotocol(self, connection: ServerConnection, offered: Any) -> Subprotocol | None:
        upstream = self._pending.get(connection)
        return upstream.subprotocol if upstream is not None else None

    async def _handle(self, connection: ServerConnection) -> None:
        upstream = self._pending.pop(connection, None)
        if upstream is None:
            return
        relay = Relay(self.registry, connection, upstream)
        self.relays.add(relay)
        log.info("connection %s -> %s%s", connection.remote_address, self.upstream, connection.request.path
                 if connection.request else "")
        try:
            await relay.run()
        finally:
            self.relays.discard(relay)

    async def run(self, listen: tuple[str, int], control: tuple[str, int], stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then close every connection (1001) and both listeners."""
        self.listen = f"{listen[0]}:{listen[1]}"
        async with serve(
            self._handle, listen[0], listen[1], process_request=self._open_upstream,
            process_response=self._pass_back, select_subprotocol=self._select_subprotocol,
            create_connection=SilenceableConnection, ping_interval=None, max_size=self.max_size,
            close_timeout=CLOSE_TIMEOUT, open_timeout=self.open_timeout + 5,
        ):
            control_server = await serve_control(ControlApi(self.registry, self.health), *control)
            log.info("listening on %s, upstream %s, control on %s:%s", self.listen, self.upstream, *control)
            try:
                await stop.wait()
            finally:
                control_server.close()
                await control_server.wait_closed()


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m injectors.websocket.proxy", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--listen", type=_address, required=True, help="HOST:PORT for WebSocket clients")
    parser.add_argument("--upstream", required=True, help="ws://HOST:PORT[/prefix] of the real server")
    parser.add_argument("--control", type=_address, required=True, help="HOST:PORT of the control API")
    parser.add_argument("--max-size", type=int, default=16 * 2**20, help="largest message in bytes")
    parser.add_argument("--open-timeout", type=float, default=10.0, help="seconds to reach the upstream")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.upstream.startswith(("ws://", "wss://")):
        parser.error("--upstream must be a ws:// or wss:// URL")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        proxy = WebSocketProxy(args.upstream, max_size=args.max_size, open_timeout=args.open_timeout)
        await proxy.run(args.listen, args.control, stop)

    asyncio.run(_main())


if __name__ == "__main__":
    main()
