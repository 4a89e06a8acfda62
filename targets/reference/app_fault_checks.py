"""Checks of the internal-fault scenarios that need more than one response to judge.

A 503 during resource exhaustion is only honest if the agent it says it
queued (its `Location`) really exists once the fault is over: these checks
follow what the API promised in one answer and verify it later.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx

from chaosgate.checks import CheckContext, CheckResult
from chaosgate.engine.samples import Sample
from chaosgate.scenario.quantities import parse_duration


def _promised_locations(samples: Sequence[Sample], status: int) -> list[str]:
    """The `Location` of every sample answered `status` (kept because the expectation checks it)."""
    return sorted(
        {
            location
            for sample in samples
            if sample.status == status and sample.observed and (location := sample.observed.get("Location"))
        }
    )


def queued_agents_created(
    ctx: CheckContext, source: str, token: str, status: int = 503, within: str = "10s"
) -> CheckResult:
    """Every agent a `status` answer of `source` said it queued is readable (200) within `within`."""
    locations = _promised_locations(ctx.samples.get(source, []), status)
    if not locations:
        return CheckResult(False, 0, f"no {status} answer of {source} carried a Location to follow")
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + parse_duration(within)
    missing = list(locations)
    while missing and time.monotonic() < deadline:
        still: list[str] = []
        for location in missing:
            try:
                found = ctx.client.get(location, headers=headers, timeout=2.0).status_code == 200
            except httpx.HTTPError:
                found = False
            if not found:
                still.append(location)
        missing = still
        if missing:
            time.sleep(0.3)
    created = len(locations) - len(missing)
    measured = f"{created}/{len(locations)}"
    if missing:
        return CheckResult(False, measured, f"{len(missing)} queued agent(s) never made, e.g. {missing[0]}")
    return CheckResult(True, measured, f"all {created} queued agent(s) exist after the fault")


def progress_marked_unresponsive(
    ctx: CheckContext, task: str, token: str, percent: float, within: str = "30s"
) -> CheckResult:
    """The progress of `task`, whose agent stopped heart-beating, turns into its last known value
    (`percent`), `stale`, with `recovery_status: agent_unresponsive`, within `within`.

    A check rather than a sampled expectation: the agent going quiet is a lasting change of
    state, not a fault that is reverted, so samples of it would never return to the steady state
    of the `before` window.
    """
    path = f"/api/v1/tasks/{task}/progress"
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + parse_duration(within)
    body: object = None
    while time.monotonic() < deadline:
        try:
            response = ctx.client.get(path, headers=headers, timeout=2.0)
            body = response.json() if response.status_code == 200 else f"HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError) as error:
            body = str(error)
        if isinstance(body, dict) and body.get("recovery_status") == "agent_unresponsive":
            stale, shown = body.get("stale"), body.get("percent")
            if stale is True and shown == percent:
                return CheckResult(True, shown, f"{path}: last known {shown}%, stale, agent_unresponsive")
            return CheckResult(False, shown, f"{path}: agent_unresponsive but stale={stale}, percent={shown}")
        time.sleep(0.5)
    return CheckResult(False, None, f"{path} never reported agent_unresponsive within {within}: {body}")
