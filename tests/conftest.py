"""Shared fixtures: real components only (a real toxiproxy-server, the real Docker engine).

Nothing here skips: a test that needs Docker and finds no engine FAILS with
the fix, because a resilience suite that silently skips its fault injection
proves nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaosgate.exceptions import ChaosgateError
from chaosgate.ports import LOOPBACK, free_port, wait_for_port
from chaosgate.processes import ManagedProcess
from injectors.docker.client import DockerEngine
from injectors.toxiproxy.client import ToxiproxyClient

TEST_IMAGE = "chaosgate/debian:bookworm"
TEST_LABEL = "chaosgate.test"


# -- a TCP echo server ----------------------------------------------------------------------------


class EchoServer:
    """Echoes every byte back; threads, loopback only, stops within a second of `stop()`."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="echo-server", daemon=True)

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> EchoServer:
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        deadline = time.monotonic() + 30
        with conn:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture(scope="session")
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer().start()
    yield server
    server.stop()


def round_trip(port: int, payload: bytes = b"ping\n", timeout: float = 3.0) -> float:
    """Seconds from sending `payload` on a fresh connection to reading all of it back."""
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as conn:
        started = time.perf_counter()
        conn.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {received!r}")
            received += chunk
        return time.perf_counter() - started


@pytest.fixture
def measure() -> Callable[..., float]:
    """`measure(port)`: one TCP round trip through whatever listens on `port`."""
    return round_trip


# -- a real toxiproxy-server ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def toxiproxy_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    server = ManagedProcess(
        "toxiproxy-server",
        ["toxiproxy-server", "-host", LOOPBACK, "-port", str(port)],
        port=port,
        log_dir=tmp_path_factory.mktemp("toxiproxy"),
        startup_timeout=15,
    )
    try:
        server.start()
    except ChaosgateError as error:
        pytest.fail(f"toxiproxy-server did not start: {error.render()} (`chaosgate doctor`)", pytrace=False)
    yield f"http://{LOOPBACK}:{port}"
    server.stop()


@pytest.fixture
def toxiproxy(toxiproxy_url: str) -> Iterator[ToxiproxyClient]:
    with ToxiproxyClient(toxiproxy_url) as client:
        yield client


@dataclass
class ProxyFactory:
    """Creates uniquely named proxies to the echo server and deletes them afterwards."""

    client: ToxiproxyClient
    upstream: str
    created: list[str]

    def __call__(self, prefix: str = "test") -> tuple[str, int]:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        proxy = self.client.create_proxy(name, self.upstream)
        self.created.append(name)
        assert wait_for_port(LOOPBACK, proxy.listen_port, 5)
        return name, proxy.listen_port


@pytest.fixture
def make_proxy(toxiproxy: ToxiproxyClient, echo_server: EchoServer) -> Iterator[ProxyFactory]:
    factory = ProxyFactory(toxiproxy, echo_server.address, [])
    yield factory
    for name in factory.created:
        toxiproxy.delete_proxy(name, missing_ok=True)


# -- the real Docker engine -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    try:
        engine = DockerEngine(timeout=30)
        engine.version()
    except ChaosgateError as error:
        pytest.fail(f"the Docker engine is required and not reachable: {error.render()}", pytrace=False)
    try:
        engine.sdk.images.get(TEST_IMAGE)
    except Exception as error:  # any failure here means the image is missing
        pytest.fail(f"image {TEST_IMAGE} is missing ({error}); build it: `bash ci/install.sh`", pytrace=False)
    yield engine
    engine.close()


class HttpProbe:
    """GET / on a loopback port, never through an HTTP proxy from the environment."""

    @staticmethod
    def status(port: int, timeout: float = 1.0) -> int:
        """The status code; raises httpx.TimeoutException when nothing answers within `timeout`."""
        with httpx.Client(trust_env=False, timeout=timeout) as client:
            return client.get(f"http://{LOOPBACK}:{port}/").status_code

    @classmethod
    def wait(cls, port: int, seconds: float = 20.0) -> bool:
        """True once the port answers 200, False after `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if cls.status(port, 0.5) == 200:
                    return True
            except httpx.HTTPError:
                time.sleep(0.1)
        return False


@pytest.fixture
def http() -> HttpProbe:
    return HttpProbe()


@dataclass
class WebContainer:
    container: Any
    port: int
    name: str

    def reload(self) -> dict[str, Any]:
        self.container.reload()
        attrs: dict[str, Any] = self.container.attrs
        return attrs


@dataclass
class ContainerFactory:
    """Starts `python3 -m http.server` containers labelled chaosgate.test=1; removed on teardown."""

    engine: DockerEngine
    started: list[Any]

    def __call__(self, labels: dict[str, str] | None = None, **options: Any) -> WebContainer:
        port = free_port()
        name = f"chaosgate-test-{uuid.uuid4().hex[:10]}"
        container = self.engine.sdk.containers.run(
            TEST_IMAGE,
            ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"],
            name=name,
            detach=True,
            init=True,  # PID 1 that forwards SIGTERM, so `stop` takes milliseconds, not the grace period
            ports={"8000/tcp": (LOOPBACK, port)},
            labels={TEST_LABEL: "1", **(labels or {})},
            **options,
        )
        self.started.append(container)
        if not HttpProbe.wait(port):
            pytest.fail(f"container {name} did not serve HTTP on {LOOPBACK}:{port} within 20 s")
        return WebContainer(container, port, name)


@pytest.fixture
def web_container(docker_engine: DockerEngine) -> Iterator[ContainerFactory]:
    factory = ContainerFactory(docker_engine, [])
    yield factory
    for container in factory.started:
        with contextlib.suppress(Exception):  # already gone is fine; teardown must try every one
            container.remove(force=True)


@pytest.fixture
def state_root(tmp_path: Path) -> Path:
    """A private directory for docker undo records (never the user's ~/.local/state)."""
    return tmp_path / "state"
