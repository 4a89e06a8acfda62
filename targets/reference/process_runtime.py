"""The reference stack as local processes: PostgreSQL, Redis, Toxiproxy, the API, a WebSocket proxy.

::

    probes ──► toxiproxy `api` ──► uvicorn (PRISM API) ──► toxiproxy `postgres` ──► postgres
    ws clients ──► wsproxy `events` ─┘                └──► toxiproxy `redis`    ──► redis-server

Every server runs in its own session on a free loopback port, with its log
in the stack's folder; PostgreSQL and Redis keep their data in temporary
folders (``targets/services.py``). The Toxiproxy server is private to the
stack, so its proxies carry the plain names ``postgres``, ``redis`` and
``api``. The API, PostgreSQL and Redis publish process records
(``process:<name>``) so the ``process`` injector can freeze, kill and
restart them; the API runs with its chaos control endpoint on, guarded by a
token generated for this stack.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from chaosgate.ports import LOOPBACK, free_port, wait_for_port
from chaosgate.processes import ManagedProcess
from chaosgate.target import Deployment
from injectors.toxiproxy import SERVER_RESOURCE, ToxiproxyClient
from injectors.websocket.process import WebSocketProxyProcess
from targets.reference.common import resources_common, wait_healthy
from targets.reference.stack import StackRecord
from targets.services import PostgresServer, RedisServer, api_environment, api_process


def _argv_folder(process: ManagedProcess | None, flag: str) -> Path | None:
    """The folder after `flag` in a server's command line (where its data lives)."""
    if process is None or flag not in process.argv:
        return None
    return Path(process.argv[process.argv.index(flag) + 1])


class ProcessStack:
    """Starts the stack part by part, recording each part before and after it starts."""

    def __init__(self, record: StackRecord, name: str, api_env: Mapping[str, str], timeout: float) -> None:
        self.record = record
        self.name = name
        self.api_env = dict(api_env)
        self.timeout = timeout
        self.logs = record.folder / "logs"
        self._toxiproxy: ManagedProcess | None = None
        self._postgres: PostgresServer | None = None
        self._redis: RedisServer | None = None
        self._api: ManagedProcess | None = None
        self._wsproxy: WebSocketProxyProcess | None = None

    def start(self) -> Deployment:
        record = self.record
        toxi_port = free_port()
        record.component("toxiproxy", port=toxi_port, program="toxiproxy-server")
        self._toxiproxy = ManagedProcess(
            "toxiproxy-server",
            ["toxiproxy-server", "-host", LOOPBACK, "-port", str(toxi_port)],
            port=toxi_port,
            log_dir=self.logs,
            startup_timeout=15,
        ).start()
        record.component("toxiproxy", pid=self._toxiproxy.pid, pgid=self._toxiproxy.pid)
        toxiproxy_url = f"http://{LOOPBACK}:{toxi_port}"
        record.update(resources={SERVER_RESOURCE: toxiproxy_url})  # faults may go there from now on

        self._postgres = PostgresServer(self.logs)
        record.component("postgres", port=self._postgres.port, program="postgres")
        self._postgres.start()
        self._publish("postgres", self._postgres.process, "-D", data_parent=True)
        self._redis = RedisServer(self.logs)
        record.component("redis", port=self._redis.port, program="redis-server")
        self._redis.start()
        self._publish("redis", self._redis.process, "--dir")

        ports = {role: free_port() for role in ("postgres", "redis", "api")}
        api_port = free_port()
        upstreams = {"postgres": self._postgres.port, "redis": self._redis.port, "api": api_port}
        with ToxiproxyClient(toxiproxy_url) as toxiproxy:
            for role, listen in ports.items():
                toxiproxy.create_proxy(role, f"{LOOPBACK}:{upstreams[role]}", f"{LOOPBACK}:{listen}")
        for role in ("postgres", "redis"):
            wait_for_port(LOOPBACK, ports[role], 5)

        token = secrets.token_urlsafe(24)
        env = api_environment(
            f"postgresql://{self._postgres.user}@{LOOPBACK}:{ports['postgres']}/{self._postgres.database}",
            f"redis://{LOOPBACK}:{ports['redis']}/0",
            self.record.folder / "api-data",
            extra={**self.api_env, "PRISM_CHAOS_ENABLED": "true", "PRISM_CHAOS_TOKEN": token},
        )
        self._api = api_process(self.logs, env, port=api_port, startup_timeout=self.timeout)
        record.component("api", port=api_port, program="reference_impl")
        self._api.start()
        self._publish("api", self._api, None)

        base_url = f"http://{LOOPBACK}:{ports['api']}"
        self._wsproxy = WebSocketProxyProcess("events", f"ws://{LOOPBACK}:{ports['api']}", log_dir=self.logs)
        record.component("wsproxy", port=self._wsproxy.control_port, program="injectors.websocket.proxy")
        self._wsproxy.start()
        record.component("wsproxy", pid=self._wsproxy.process.pid, pgid=self._wsproxy.process.pid)
        wait_healthy(base_url, self.timeout, lambda: self._api.log_tail() if self._api else "")

        resources = {
            **resources_common(toxiproxy_url, self._wsproxy, token, f"http://{LOOPBACK}:{api_port}"),
            **{f"process:{role}": str(self._record_path(role)) for role in ("api", "postgres", "redis")},
            "runtime": "process",
            "stack": record.stack_id,
            "postgres_dsn": self._postgres.dsn,
            "redis_url": self._redis.url,
            "logs": str(self.logs),
        }
        return Deployment(self.name, base_url, resources, f"{base_url}/openapi.json")

    def _record_path(self, role: str) -> Path:
        return self.record.folder / "processes" / f"{role}.json"

    def _publish(
        self, role: str, process: ManagedProcess | None, flag: str | None, *, data_parent: bool = False
    ) -> None:
        """Save the pid and data folder of a started server and publish its process record."""
        assert process is not None
        assert process.pid is not None
        folder = _argv_folder(process, flag) if flag else None
        if folder is not None:
            self.record.add_path(folder.parent if data_parent else folder)
        process.write_record(self._record_path(role))
        self.record.component(role, pid=process.pid, pgid=process.pid, record=str(self._record_path(role)))

    def stop(self) -> None:
        """Stop what this process started (front to back); the record sweeps up the rest."""
        if self._wsproxy is not None:
            self._wsproxy.stop()
        if self._api is not None:
            self._api.stop()
        if self._toxiproxy is not None:
            self._toxiproxy.stop()
        if self._redis is not None:
            self._redis.stop()
        if self._postgres is not None:
            self._postgres.stop()
        self._wsproxy = self._api = self._toxiproxy = None
        self._redis = self._postgres = None
