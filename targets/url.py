"""A target that is any HTTP/WebSocket service reachable at a base URL.

chaosgate puts Toxiproxy in front of it (a proxy named ``api``) and probes it
through the proxy, so network faults apply to everything the run sends. A
private ``toxiproxy-server`` is started for the run unless the target file
names one; its API is published as the ``toxiproxy`` resource. What a run
creates is recorded in the state folder, with the resources it published,
so ``chaosgate cleanup`` can remove it and its faults after a SIGKILL.

Only loopback addresses are accepted unless the file says ``allow_remote:
true``: load and fuzzing must not reach a host nobody meant to test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator

from chaosgate.exceptions import ChaosgateError, ComponentMissing, TargetError, UsageError
from chaosgate.ports import free_port, is_loopback_host
from chaosgate.private_files import write_private
from chaosgate.processes import ManagedProcess
from chaosgate.target import Deployment, Target, TargetSpec
from injectors.toxiproxy import SERVER_RESOURCE, ToxiproxyClient

PROXY_PREFIX = "chaosgate_target_"


class UrlSpec(TargetSpec):
    """A service at `base_url`, optionally with its OpenAPI document."""

    kind: str = "url"
    base_url: str = Field(description="e.g. `http://127.0.0.1:8080` (a path prefix is kept).")
    openapi: str | None = Field(default=None, description="Path or URL of its OpenAPI document.")
    proxy: bool = Field(default=True, description="Put Toxiproxy in front (proxy `api`).")
    toxiproxy_url: str | None = Field(
        default=None, description="Use this Toxiproxy server instead of a private one."
    )
    allow_remote: bool = False

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host")
        return value.rstrip("/")



class UrlTarget(Target):
    kind: ClassVar[str] = "url"
    Spec: ClassVar[type[TargetSpec]] = UrlSpec

    def __init__(self, spec: TargetSpec, *, run_id: str, state_dir: Path) -> None:
        super().__init__(spec, run_id=run_id, state_dir=state_dir)
        self._server: ManagedProcess | None = None
        self._client: ToxiproxyClient | None = None
        self._proxy: str | None = None

    @property
    def url_spec(self) -> UrlSpec:
        assert isinstance(self.spec, UrlSpec)
        return self.spec

    @property
    def record_path(self) -> Path:
        return self.state_dir / "targets" / f"url-{self.run_id}.json"

    def _record(self, **data: object) -> None:
        current = json.loads(self.record_path.read_text()) if self.record_path.exists() else {}
        current.update(data)
        write_private(self.record_path, json.dumps(current))

    def up(self) -> Deployment:
        spec = self.url_spec
        parts = urlsplit(spec.base_url)
        host = parts.hostname or ""
        if not spec.allow_remote and not is_loopback_host(host):
            raise UsageError(
                f"target {spec.name}: {host} is not a loopback address; set `allow_remote: true`"
            )
        toxiproxy_url = spec.toxiproxy_url or self._start_toxiproxy()
        openapi = spec.openapi
        if openapi and openapi.startswith("/"):
            openapi = spec.base_url + openapi
        resources = {SERVER_RESOURCE: toxiproxy_url}
        if not spec.proxy:
            if self._server is not None:
                self._record(resources=resources)
            return Deployment(spec.name, spec.base_url, resources, openapi)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._client = ToxiproxyClient(toxiproxy_url)
        self._proxy = f"{PROXY_PREFIX}{self.run_id}_api"
        listen_port = free_port()
        self._client.create_proxy(self._proxy, f"{host}:{port}", f"127.0.0.1:{listen_port}")
        resources["proxy:api"] = self._proxy
        self._record(toxiproxy_url=toxiproxy_url, proxies=[self._proxy], resources=resources)
        proxied = urlunsplit((parts.scheme, f"127.0.0.1:{listen_port}", parts.path, "", ""))
        return Deployment(spec.name, proxied, resources, openapi)

    def _start_toxiproxy(self) -> str:
        port = free_port()
        log_dir = self.state_dir / "logs"
        self._server = ManagedProcess(
            "toxiproxy-server",
            ["toxiproxy-server", "-host", "127.0.0.1", "-port", str(port)],
            port=port,
            log_dir=log_dir,
            startup_timeout=15,
        ).start()
        self._record(toxiproxy_pid=self._server.pid)
        return f"http://127.0.0.1:{port}"

    def down(self) -> None:
        if self._client is not None and self._proxy is not None:
            with contextlib.suppress(Exception):
                self._client.delete_proxy(self._proxy, missing_ok=True)
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.record_path.unlink(missing_ok=True)

    @classmethod
    def cleanup(cls, state_dir: Path) -> list[str]:
        """Remove the proxies and private Toxiproxy servers that killed runs left.

        A private server that is gone took its proxies along. A server the
        target file named (not started by the run) that does not answer may
        still hold the proxy and its toxics: the record is kept and the
        failure raised, once every other record was handled.
        """
        lines: list[str] = []
        failed: list[str] = []
        for record_path in sorted((state_dir / "targets").glob("url-*.json")):
            try:
                record = json.loads(record_path.read_text())
            except (OSError, ValueError):
                continue
            url = record.get("toxiproxy_url")
            pid = record.get("toxiproxy_pid")
            kept = False
            for proxy in record.get("proxies", []) if url else []:
                try:
                    with ToxiproxyClient(url, timeout=2) as client:
                        if client.delete_proxy(proxy, missing_ok=True):
                            lines.append(f"url target: removed proxy {proxy}")
                except ChaosgateError as error:
                    if pid and isinstance(error, ComponentMissing):
                        continue  # the run's own server is gone, and the proxy with it
                    failed.append(f"proxy {proxy} not removed ({error}); kept {record_path}")
                    kept = True
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(pid), signal.SIGKILL)
                    lines.append(f"url target: stopped toxiproxy-server (pid {pid})")
            if not kept:
                record_path.unlink(missing_ok=True)
        if failed:
            raise TargetError("; ".join([*failed, *(f"(done: {line})" for line in lines)]))
        return lines
