"""The `app` injector: faults that cannot be made from outside, switched on inside the service.

Storage corruption, a busy agent, resource exhaustion or a failing metrics
calculation are conditions of the application, not of the network, so the
reference implementation exposes a chaos control endpoint (off unless the
service starts with ``PRISM_CHAOS_ENABLED=true``, guarded by its own
``X-Chaos-Token``). The endpoint's URL and token come from the target's
resources (``chaos_url``: the root of the chaos API, e.g.
``http://127.0.0.1:8000/api/v1/chaos``; ``chaos_token``) and are never
taken from a scenario file.

Two safety nets against a chaosgate that dies mid-fault: every injection
asks the service to revert it by itself after `expires_after`, and an undo
record (``<state>/app/``) lets ``chaosgate cleanup`` revert it at once.
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from pathlib import Path
from typing import ClassVar, Literal

import httpx
from pydantic import Field

from chaosgate.exceptions import ChaosgateError, ComponentMissing, InjectorError
from chaosgate.injector import InjectionContext, Injector, InjectorParams
from chaosgate.scenario.model import Duration
from chaosgate.state import default_state_dir

FAULTS_PATH = "/faults"
TIMEOUT = 5.0


class AppParams(InjectorParams):
    """An internal fault of the service, switched on through its chaos control endpoint."""

    fault: Literal[
        "storage_corruption", "agent_busy", "resource_exhaustion", "metrics_calculation_failure"
    ] = Field(description="The condition to switch on inside the service.")
    agent_id: uuid.UUID | None = Field(
        default=None, description="For `agent_busy`: only this agent (else all)."
    )
    expires_after: Duration = Field(
        default=600.0, description="The service reverts the fault by itself after this long (a safety net)."
    )


def _records(context: InjectionContext) -> Path:
    return default_state_dir(context.resources.get("state_dir")) / "app"


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

    def _endpoint(self) -> tuple[str, str]:
        url = self.context.resources.get("chaos_url")
        token = self.context.resources.get("chaos_token")
        if not url or not token:
            raise InjectorError(
                "app: this target publishes no chaos endpoint (resources chaos_url, chaos_token)"
            )
        return url.rstrip("/") + FAULTS_PATH, token

    @property
    def _record(self) -> Path:
        return _records(self.context) / f"{self.context.run_id}-{self.params.fault}.json"

    def inject(self) -> None:
        url, token = self._endpoint()
        self._record.parent.mkdir(parents=True, exist_ok=True)
        lifetime = max(1, math.ceil(self.params.expires_after))
        expires_at = time.time() + lifetime  # the service reverts it by itself then: cleanup's deadline
        self._record.write_text(
            json.dumps({"url": url, "token": token, "fault": self.params.fault, "expires_at": expires_at})
        )
        os.chmod(self._record, 0o600)  # it holds the chaos token
        body: dict[str, object] = {"fault": self.params.fault, "duration_seconds": lifetime}
        if self.params.agent_id is not None:
            body["agent_id"] = str(self.params.agent_id)
        response = _call("POST", url, token, body)
        if response.status_code != 201:
            self._record.unlink(missing_ok=True)
            raise InjectorError(
                f"app: injecting {self.params.fault} answered {response.status_code}: {response.text}"
            )

    def revert(self) -> None:
        if not self._record.exists():
            return
        url, token = self._endpoint()
        response = _call("DELETE", f"{url}/{self.params.fault}", token)
        if response.status_code not in (204, 404):  # 404: it had already expired
            raise InjectorError(f"app: reverting {self.params.fault} answered {response.status_code}")
        self._record.unlink(missing_ok=True)

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
        folder = _records(context)
        for record in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                data = json.loads(record.read_text())
                fault, url, token = str(data["fault"]), str(data["url"]), str(data["token"])
            except (OSError, ValueError, KeyError, TypeError) as error:
                failed.append(f"unreadable record {record}: {error}")
                continue
            try:
                response = _call("DELETE", f"{url}/{fault}", token)
            except ChaosgateError as error:
                if time.time() > float(data.get("expires_at") or math.inf):
                    record.unlink(missing_ok=True)
                    lines.append(f"app: {url} does not answer; {fault} had expired by itself anyway")
                else:
                    failed.append(f"{fault} at {url} not reverted ({error}); kept {record}")
                continue
            if response.status_code not in (204, 404):  # 404: it had already expired
                status = response.status_code
                failed.append(f"{fault} at {url} not reverted (answered {status}); kept {record}")
                continue
            record.unlink(missing_ok=True)
            lines.append(f"app: reverted {fault} at {url}")
        if failed:
            raise InjectorError("; ".join([*failed, *(f"(done: {line})" for line in lines)]))
        return lines
