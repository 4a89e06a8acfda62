"""Run a WebSocket frame proxy as a local process, for targets and tests.

The proxy is a separate process (like ``toxiproxy-server``) so that the faults
it holds outlive neither more nor less than the proxy itself, and so that the
engine's own event loop never relays a frame.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Self

from chaosgate.ports import LOOPBACK, free_port
from chaosgate.processes import ManagedProcess
from injectors.websocket.injector import RESOURCE_PREFIX


class WebSocketProxyProcess:
    """``python -m injectors.websocket.proxy`` on loopback ports, stopped on exit.

    Clients connect to :attr:`url` (plus the path they want upstream); the
    injector reaches the control API through :attr:`resources`.
    """

    def __init__(
        self,
        name: str,
        upstream: str,
        *,
        log_dir: Path,
        host: str = LOOPBACK,
        listen_port: int | None = None,
        control_port: int | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.name = name
        self.upstream = upstream
        self.host = host
        self.listen_port = listen_port or free_port(host)
        self.control_port = control_port or free_port(host)
        argv = [
            sys.executable, "-m", "injectors.websocket.proxy",
            "--listen", f"{host}:{self.listen_port}",
            "--upstream", upstream,
            "--control", f"{host}:{self.control_port}",
        ]
        # The control port opens last, so once it answers the listener is up too.
        self.process = ManagedProcess(
            f"wsproxy-{name}", argv, port=self.control_port, host=host, log_dir=log_dir,
            startup_timeout=startup_timeout,
        )

    @property
    def url(self) -> str:
        """Where clients connect: ``ws://host:port`` (append the upstream path)."""
        return f"ws://{self.host}:{self.listen_port}"

    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self.control_port}"

    @property
    def resources(self) -> dict[str, str]:
        """What a target adds to the injection context so a scenario can say ``proxy: <name>``."""
        return {f"{RESOURCE_PREFIX}{self.name}": self.control_url}

    def start(self) -> Self:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
