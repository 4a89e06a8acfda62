"""The `app` injector: faults that cannot be made from outside, switched on inside the service.

Storage corruption, a busy agent, resource exhaustion, a failing metrics
calculation or CPU / memory pressure (the service's own overload signal) are
conditions of the application, not of the network, so the
reference implementation exposes a chaos control endpoint (off unless the
service starts with ``PRISM_CHAOS_ENABLED=true``, guarded by its own
``X-Chaos-Token``). The endpoint's URL and token come from the target's
resources (``chaos_url``: the root of the chaos API, e.g.
``http://127.0.0.1:8000/api/v1/chaos``; ``chaos_token``) and are never
taken from a scenario file.

Two safety nets against a chaosgate that dies mid-fault: every injection
asks the service to revert it by itself after `expires_after`, and an undo
record (``<state>/app/``, written by :mod:`chaosgate.undo`, so 0600 from the
moment it exists: it holds the chaos token) lets ``chaosgate cleanup`` revert
it at once.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field

from chaosgate.exceptions import ChaosgateError, ComponentMissing, InjectorError
from chaosgate.injector import InjectionContext, Injector, InjectorParams
from chaosgate.scenario.model import Duration
from chaosgate.undo import read_records, write_record

FAULTS_PATH = "/faults"
TIMEOUT = 5.0


class AppParams(InjectorParams):
    """An internal fault of the service, switched on through its chaos control endpoint."""

    fault: Literal[
        "storage_corruption",
        "agent_busy",
        "resource_exhaustion",
        "metrics_calculation_failure",
        "cpu_pressure",
        "memory_pressure",
    ] = Field(description="The condition to switch on inside the service.")
    agent_id: uuid.UUID | None = Field(
        default=None, description="For `agent_busy`: only this agent (else all)."
    )
    expires_after: Duration = Field(
        default=600.0, description="The service reverts the fault by itself after this long (a safety net)."
    )


@dataclass(frozen=True)
class AppUndo:
    """A fault switched on (or about to be) at one chaos endpoint, and the token to switch it off."""

    run_id: str
    url: str
    token: str
    fault: str
    expires_at: float = math.inf

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AppUndo:
        data = json.loads(text)
        expires = float(data.get("expires_at", math.inf))
        return cls(str(data["run_id"]), str(data["url"]), str(data["token"]), str(data["fault"]), expires)


def _records(context: InjectionContext) -> Path:
    return context.state_dir / "app"


def _call(method: str, url: str, token: str, body: dict[str, object] | None = None) -> httpx.Response:
    try:
        response = httpx.request(
            method,
            url,
            json=body,
            headers={"X-Chaos-Token": token},
            timeout=TIMEOUT,
            verify=url.startswith("https://"),
            trust_env=False,
        )
    except httpx.ConnectError as error:
        raise ComponentMissing(f"app: the chaos endpoint at {url} is not reachable: {error}") from None
    except httpx.HTTPError as error:
        raise InjectorError(f"app: {method} {url} failed: {error}") from None
    if response.status_code == 404 and method == "POST":
        raise InjectorError(f"app: {url} not found: the service must run with its chaos endpoint enabled")
    if response.status_code == 401:
        raise InjectorError(f"app: {url} refused the chaos token")
    return response


class AppInjector(Injector[AppParams]):
    """Storage corruption, agent busy, resource exhaustion, metrics failure: inside the service."""

    name: ClassVar[str] = "app"
    Params: ClassVar[type[InjectorParams]] = AppParams
    summary: ClassVar[str] = "Application faults through the service's chaos control endpoint."

    @classmethod
    def fault_class(cls, params: Mapping[str, Any]) -> str:
        return f"app: {params.get('fault', '?')}"

    def _endpoint(self) -> tuple[str, str]:
        url = self.context.resources.get("chaos_url")
        token = self.context.resources.get("chaos_token")
        if not url or not token:
            raise InjectorError(
                "app: this target publishes no chaos endpoint (resources chaos_url, chaos_token)"
            )
        return url.rstrip("/") + FAULTS_PATH, token

    def __init__(self, params: AppParams, context: InjectionContext) -> None:
        super().__init__(params, context)
        self._record: Path | None = None

    def inject(self) -> None:
        url, token = self._endpoint()
        lifetime = max(1, math.ceil(self.params.expires_after))
        # The service reverts the fault by itself at `expires_at`: cleanup's deadline for retrying.
        undo = AppUndo(self.context.run_id, url, token, self.params.fault, time.time() + lifetime)
        record = write_record(_records(self.context), "app", undo.run_id, undo.fault, undo.to_json())
        body: dict[str, object] = {"fault": self.params.fault, "duration_seconds": lifetime}
        if self.params.agent_id is not None:
            body["agent_id"] = str(self.params.agent_id)
        try:
            response = _call("POST", url, token, body)
        except BaseException:
            record.unlink(missing_ok=True)  # nothing was switched on (or the endpoint is unreachable)
            raise
        if response.status_code != 201:
            record.unlink(missing_ok=True)
            raise InjectorError(
                f"app: injecting {self.params.fault} answered {response.status_code}: {response.text}"
            )
        self._record = record

    def revert(self) -> None:
        if self._record is None:
            return
        url, token = self._endpoint()
        response = _call("DELETE", f"{url}/{self.params.fault}", token)
        if response.status_code not in (204, 404):  # 404: it had already expired
            raise InjectorError(f"app: reverting {self.params.fault} answered {response.status_code}")
        self._record.unlink(missing_ok=True)
        self._record = None

    def describe(self) -> str:
        agent = f" on agent {self.params.agent_id}" if self.params.agent_id else ""
        return f"app: {self.params.fault.replace('_', ' ')}{agent} (chaos endpoint)"

    @classmethod
    def cleanup(cls, context: InjectionContext) -> list[str]:
        """Revert every fault a killed run left switched on; a record whose revert fails is kept.

        An endpoint that does not answer has reverted nothing (the service may
        be restarting, or keep its faults where a restart does not clear
        them), so that is reported as a failure, never taken as done, until
        the fault's own expiry (`expires_after`) has passed.
        """
        lines: list[str] = []
        failed: list[str] = []
        for path, undo in read_records(_records(context), "app", AppUndo.from_json, lambda r: r.run_id):
            try:
                response = _call("DELETE", f"{undo.url}/{undo.fault}", undo.token)
            except ChaosgateError as error:
                if time.time() > undo.expires_at:
                    path.unlink(missing_ok=True)
                    gone = f"{undo.fault} had expired by itself anyway"
                    lines.append(f"app: {undo.url} does not answer; {gone}")
                else:
                    failed.append(f"{undo.fault} at {undo.url} not reverted ({error}); kept {path}")
                continue
            if response.status_code not in (204, 404):  # 404: it had already expired
                status = response.status_code
                failed.append(f"{undo.fault} at {undo.url} not reverted (answered {status}); kept {path}")
                continue
            path.unlink(missing_ok=True)
            lines.append(f"app: reverted {undo.fault} at {undo.url}")
        if failed:
            raise InjectorError("; ".join([*failed, *(f"(done: {line})" for line in lines)]))
        return lines
