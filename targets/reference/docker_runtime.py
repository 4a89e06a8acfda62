"""The reference stack as Docker containers on one user-defined network.

::

    host 127.0.0.1 ─► toxiproxy container ─ proxy `api` (:18000) ─► api container (:8000)
                                          ─ proxy `postgres` (:15432) ─► postgres container
                                          ─ proxy `redis` (:16379) ─► redis container
    ws clients ─► wsproxy (host process) ─► toxiproxy `api`

Toxiproxy runs as a container on the stack's network, so the API reaches
PostgreSQL and Redis only through it (database and cache faults are
injectable) while ``docker pause`` of the PostgreSQL container still is a
real fault. Ports are published on 127.0.0.1 only, on ports the engine
picks: Toxiproxy's API, the ``api`` proxy (the base URL), and, for checks
that bypass Toxiproxy, PostgreSQL, Redis and the API itself. Every container
and the network are named ``chaosgate-<stack>-…`` and labelled
``chaosgate.target``/``chaosgate.stack``; they are recorded before they are
created. Images are built on demand (:mod:`targets.reference.images`).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import Any

from chaosgate.exceptions import ComponentMissing, TargetError
from chaosgate.ports import LOOPBACK, free_port, wait_for_port
from chaosgate.target import Deployment
from injectors.toxiproxy import SERVER_RESOURCE, ToxiproxyClient
from injectors.websocket.process import WebSocketProxyProcess
from targets.reference.common import resources_common, wait_healthy
from targets.reference.images import ImageBuilder, ImageSet
from targets.reference.stack import StackRecord

ROLES = ("postgres", "redis", "toxiproxy", "api")
PROXY_PORTS = {"postgres": 15432, "redis": 16379, "api": 18000}
SERVICE_PORTS = {"postgres": 5432, "redis": 6379, "api": 8000}
TOXIPROXY_PORT = 8474
ENGINE_TIMEOUT = 120


def docker_sdk() -> Any:
    import docker  # noqa: PLC0415 - the process runtime never loads the SDK

    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT)
        client.ping()
    except Exception as error:  # noqa: BLE001 - any SDK/requests failure means no engine
        raise ComponentMissing(f"docker engine not reachable ({error}); run ci/install.sh") from None
    return client


def container_names(stack_id: str) -> dict[str, str]:
    return {role: f"chaosgate-{stack_id}-{role}" for role in ROLES}


class DockerStack:
    def __init__(
        self, record: StackRecord, name: str, api_env: dict[str, str], timeout: float, build: bool
    ) -> None:
        self.record = record
        self.name = name
        self.api_env = api_env
        self.timeout = timeout
        self.build = build
        self._wsproxy: WebSocketProxyProcess | None = None

    def _images(self) -> ImageSet:
        builder = ImageBuilder()
        try:
            if self.build:
                return builder.ensure()
            tags = builder.tags()
            missing = [tag for role, tag in tags.items() if role != "rootfs" and not builder.exists(tag)]
            if missing:
                raise ComponentMissing(
                    f"images missing: {', '.join(missing)}; "
                    "run `.venv/bin/python -m targets.reference.images build`"
                )
            return ImageSet(tags["postgres"], tags["redis"], tags["toxiproxy"], tags["api"])
        finally:
            builder.close()

    def start(self) -> Deployment:
        images = self._images()
        record, sdk = self.record, docker_sdk()
        names, network = container_names(record.stack_id), f"chaosgate-{record.stack_id}"
        labels = {
            "chaosgate.target": self.name,
            "chaosgate.stack": record.stack_id,
            "chaosgate.kind": "reference",
        }
        record.update(network=network, containers=list(names.values()))
        try:
            subnet = _subnet(sdk.networks.create(network, driver="bridge", labels=labels))
            published = {
                "postgres": self._run(sdk, images.postgres, names["postgres"], network, labels, [5432]),
                "redis": self._run(sdk, images.redis, names["redis"], network, labels, [6379]),
                "toxiproxy": self._run(
                    sdk,
                    images.toxiproxy,
                    names["toxiproxy"],
                    network,
                    labels,
                    [TOXIPROXY_PORT, PROXY_PORTS["api"]],
                ),
            }
            toxiproxy_url = f"http://{LOOPBACK}:{published['toxiproxy'][TOXIPROXY_PORT]}"
            record.update(resources={SERVER_RESOURCE: toxiproxy_url})  # faults may go there from now on
            self._proxies(toxiproxy_url, names)
            token = secrets.token_urlsafe(24)
            environment = {
                **self.api_env,
                "PRISM_DATABASE_URL": f"postgresql://prism@{names['toxiproxy']}:{PROXY_PORTS['postgres']}/prism",
                "PRISM_REDIS_URL": f"redis://{names['toxiproxy']}:{PROXY_PORTS['redis']}/0",
                "PRISM_CHAOS_ENABLED": "true",
                "PRISM_CHAOS_TOKEN": token,
            }
            # Every request reaches the API through the Toxiproxy container on the stack's own
            # network; without this the lockdown policy would take the test client for an
            # outsider, and the docker runtime would judge the service differently from the
            # process runtime, where the same requests arrive from loopback.
            environment.setdefault("PRISM_TRUSTED_NETWORKS", f"127.0.0.0/8,::1/128,{subnet}")
            published["api"] = self._run(sdk, images.api, names["api"], network, labels, [8000], environment)
            api_proxy_port = published["toxiproxy"][PROXY_PORTS["api"]]
            base_url = f"http://{LOOPBACK}:{api_proxy_port}"
            self._wsproxy = WebSocketProxyProcess(
                "events", f"ws://{LOOPBACK}:{api_proxy_port}", log_dir=record.folder / "logs"
            )
            record.component("wsproxy", port=self._wsproxy.control_port, program="injectors.websocket.proxy")
            self._wsproxy.start()
            record.component("wsproxy", pid=self._wsproxy.process.pid, pgid=self._wsproxy.process.pid)
            wait_healthy(base_url, self.timeout, lambda: _logs(sdk, names["api"]))
        finally:
            sdk.close()
        direct_api = f"http://{LOOPBACK}:{published['api'][8000]}"
        resources = {
            **resources_common(toxiproxy_url, self._wsproxy, token, direct_api),
            **{f"container:{role}": container for role, container in names.items()},
            "network": network,
            "runtime": "docker",
            "stack": record.stack_id,
            "postgres_dsn": f"postgresql://prism@{LOOPBACK}:{published['postgres'][5432]}/prism",
            "redis_url": f"redis://{LOOPBACK}:{published['redis'][6379]}/0",
        }
        return Deployment(self.name, base_url, resources, f"{base_url}/openapi.json")

    def _run(  # noqa: PLR0917 - one call per container, read side by side
        self,
        sdk: Any,
        image: str,
        name: str,
        network: str,
        labels: dict[str, str],
        ports: list[int],
        environment: dict[str, str] | None = None,
    ) -> dict[int, int]:
        """Start one container; its published ports (container → 127.0.0.1 host port) once they answer."""
        import docker.errors  # noqa: PLC0415

        try:
            container = sdk.containers.run(
                image,
                name=name,
                detach=True,
                network=network,
                labels=labels,
                environment=environment or {},
                # Fixed host ports, chosen here: with docker's pick (None) a container that a fault
                # stops, kills or restarts comes back on another port, and every resource the
                # deployment published for it (DSNs, the chaos endpoint) would point at nothing.
                ports={f"{port}/tcp": (LOOPBACK, free_port()) for port in ports},
                hostname=name.rsplit("-", 1)[-1],
            )
        except docker.errors.DockerException as error:
            raise TargetError(f"docker: starting {name} from {image} failed: {error}") from None
        deadline = time.monotonic() + 30
        mapping: dict[int, int] = {}
        while time.monotonic() < deadline and len(mapping) < len(ports):
            container.reload()
            if container.status == "exited":
                raise TargetError(f"{name} exited at start; its log:\n{_logs(sdk, name)}")
            for port in ports:
                bound = (container.ports or {}).get(f"{port}/tcp") or []
                if bound:
                    mapping[port] = int(bound[0]["HostPort"])
            time.sleep(0.1)
        if len(mapping) < len(ports):
            raise TargetError(f"{name}: docker did not publish {ports} within 30s")
        return mapping

    def _proxies(self, toxiproxy_url: str, names: dict[str, str]) -> None:
        port = int(toxiproxy_url.rsplit(":", 1)[1])
        if not wait_for_port(LOOPBACK, port, 30):
            raise TargetError(f"the Toxiproxy container did not answer on {toxiproxy_url} within 30s")
        deadline = time.monotonic() + 15
        with ToxiproxyClient(toxiproxy_url) as client:
            while True:  # the published port accepts before the server inside listens
                try:
                    client.version()
                    break
                except Exception:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.2)
            for role, listen in PROXY_PORTS.items():
                client.create_proxy(role, f"{names[role]}:{SERVICE_PORTS[role]}", f"0.0.0.0:{listen}")

    def stop(self) -> None:
        if self._wsproxy is not None:
            self._wsproxy.stop()
            self._wsproxy = None


def _logs(sdk: Any, name: str) -> str:
    with contextlib.suppress(Exception):
        return str(sdk.containers.get(name).logs(tail=30).decode(errors="replace"))
    return "(no log)"


def containers_alive(record: StackRecord) -> bool:
    names = record.data.get("containers") or []
    if not names:
        return False
    sdk = docker_sdk()
    try:
        import docker.errors  # noqa: PLC0415

        for name in names:
            try:
                if sdk.containers.get(name).status not in ("running", "paused"):
                    return False
            except docker.errors.NotFound:
                return False
        return True
    finally:
        sdk.close()


def _subnet(network: Any) -> str:
    """The IPv4 subnet Docker gave a network (read back: creation answers without it)."""
    network.reload()
    configs = network.attrs.get("IPAM", {}).get("Config") or []
    subnets = [c["Subnet"] for c in configs if "Subnet" in c and ":" not in c["Subnet"]]
    if not subnets:
        raise TargetError(f"docker network {network.name} has no IPv4 subnet")
    return str(subnets[0])


def remove_containers(record: StackRecord) -> list[str]:
    """Remove the stack's containers (by record and by label) and its network; paused ones too."""
    names = list(record.data.get("containers") or [])
    network = record.data.get("network")
    if not names and not network:
        return []
    import docker.errors  # noqa: PLC0415

    lines: list[str] = []
    sdk = docker_sdk()
    try:
        found = {
            c.name: c
            for c in sdk.containers.list(all=True, filters={"label": f"chaosgate.stack={record.stack_id}"})
        }
        for name in names:
            if name not in found:
                with contextlib.suppress(docker.errors.NotFound):
                    found[name] = sdk.containers.get(name)
        for name, container in found.items():
            with contextlib.suppress(docker.errors.NotFound):
                if container.status == "paused":
                    container.unpause()
                container.remove(force=True, v=True)
                lines.append(f"reference {record.stack_id}: removed container {name}")
        if network:
            for net in sdk.networks.list(names=[network]):
                with contextlib.suppress(docker.errors.NotFound):
                    net.remove()
                    lines.append(f"reference {record.stack_id}: removed network {network}")
    finally:
        sdk.close()
    return lines
