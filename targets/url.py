"""A target that is any HTTP/WebSocket service reachable at a base URL.

chaosgate puts Toxiproxy in front of it (a proxy named ``api``) and probes it
through the proxy, so network faults apply to everything the run sends. A
private ``toxiproxy-server`` is started for the run unless the target file
names one. What a run creates is recorded in the state folder, so
``chaosgate cleanup`` can remove it after a SIGKILL.

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

from chaosgate.exceptions import UsageError
from chaosgate.ports import free_port, is_loopback_host
from chaosgate.target import Deployment, Target, TargetSpec
from injectors.toxiproxy.client import ToxiproxyClient
from targets.process import ManagedProcess

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
        self.record_path.parent.mkdir(parents=True, exist_ok=True)
        current = json.loads(self.record_path.read_text()) if self.record_path.exists() else {}
        current.update(data)
        self.record_path.write_text(json.dumps(current))

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
        if not spec.proxy:
            return Deployment(spec.name, spec.base_url, toxiproxy_url, {}, openapi)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._client = ToxiproxyClient(toxiproxy_url)
        self._proxy = f"{PROXY_PREFIX}{self.run_id}_api"
        listen_port = free_port()
        self._client.create_proxy(self._proxy, f"{host}:{port}", f"127.0.0.1:{listen_port}")
        self._record(toxiproxy_url=toxiproxy_url, proxies=[self._proxy])
        proxied = urlunsplit((parts.scheme, f"127.0.0.1:{listen_port}", parts.path, "", ""))
        return Deployment(spec.name, proxied, toxiproxy_url, {"proxy:api": self._proxy}, openapi)

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
        lines = []
        for record_path in sorted((state_dir / "targets").glob("url-*.json")):
            try:
                record = json.loads(record_path.read_text())
            except (OSError, ValueError):
                continue
            url = record.get("toxiproxy_url")
            for proxy in record.get("proxies", []):
                if url:
                    with contextlib.suppress(Exception), ToxiproxyClient(url, timeout=2) as client:
                        if client.delete_proxy(proxy, missing_ok=True):
                            lines.append(f"url target: removed proxy {proxy}")
            pid = record.get("toxiproxy_pid")
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(pid), signal.SIGKILL)
                    lines.append(f"url target: stopped toxiproxy-server (pid {pid})")
            record_path.unlink(missing_ok=True)
        return lines
