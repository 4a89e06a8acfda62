"""Waiting for a target to return to its baseline before each scenario (R2.7).

Scenarios run one after another against one target, and a fault's effects
can outlive its revert: an open circuit breaker, a queue still draining, a
connection pool still reconnecting. If the next scenario started at once, it
would be aborted or failed for what the previous one did. So the suite asks
the target's declared readiness checks, in a bounded loop, until they all
pass twice in a row (once could be a half-open breaker letting one request
through), and records how long that took.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from chaosgate.engine.http import Clock, perform, verify_tls
from chaosgate.scenario.model import Probe

PAUSE = 0.25
PASSES_NEEDED = 2


@dataclass(frozen=True)
class Settled:
    """How a wait for readiness ended: `seconds` waited, and why not when it did not."""

    ready: bool
    seconds: float
    reason: str = ""


async def _first_failure(
    client: httpx.AsyncClient, checks: Sequence[Probe], clock: Clock, context: Mapping[str, Any]
) -> str:
    for index, probe in enumerate(checks):
        outcome = await perform(
            client, probe.request, source="readiness", clock=clock, context=context, check=probe.expect
        )
        if not outcome.sample.ok:
            name = probe.name or f"readiness-{index + 1}"
            why = outcome.sample.detail or outcome.sample.error or "failed"
            return f"{name} ({probe.request.method} {probe.request.path}): {why}"
    return ""


async def wait_until_ready(
    base_url: str, checks: Sequence[Probe], timeout: float, context: Mapping[str, Any]
) -> Settled:
    """Poll `checks` until they pass `PASSES_NEEDED` times in a row, for at most `timeout` seconds."""
    clock = Clock(time.monotonic())
    if not checks:
        return Settled(True, 0.0)
    passes, reason = 0, "not checked"
    async with httpx.AsyncClient(base_url=base_url, verify=verify_tls(base_url)) as client:
        while True:
            remaining = timeout - clock.now()
            if remaining <= 0:
                return Settled(False, round(clock.now(), 3), reason)
            try:
                reason = await asyncio.wait_for(_first_failure(client, checks, clock, context), remaining)
            except TimeoutError:
                reason = reason if reason != "" else "no answer before the deadline"
                return Settled(False, round(clock.now(), 3), reason)
            passes = passes + 1 if not reason else 0
            if passes >= PASSES_NEEDED:
                return Settled(True, round(clock.now(), 3))
            await asyncio.sleep(min(PAUSE, max(timeout - clock.now(), 0)))
