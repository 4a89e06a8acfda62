"""The steps around the sampling phase: setup, steady state, checks and teardown.

Setup steps feed ``${setup.NAME...}``; the steady-state check decides
whether the scenario runs at all (R2.1: if it does not hold before faults,
the scenario is aborted, not failed); checks and teardown run after the
faults are reverted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from chaosgate.checks import CheckContext, resolve
from chaosgate.engine.http import Clock, perform, verify_tls
from chaosgate.exceptions import InfrastructureError, SteadyStateAborted
from chaosgate.scenario.model import CheckExpectation, Probe, Scenario
from chaosgate.scenario.templating import render
from chaosgate.unexpected import describe

STEADY_ATTEMPTS = 3
STEADY_PAUSE = 1.0


class CheckRaised(InfrastructureError):
    """A registered check raised instead of returning a result."""


async def run_setup(
    client: httpx.AsyncClient, scenario: Scenario, clock: Clock, context: dict[str, Any]
) -> None:
    """Make each setup request in order; keep its JSON answer for later references."""
    for step in scenario.setup:
        outcome = await perform(
            client, step.request, source=f"setup.{step.name}", clock=clock, context=context, check=step.expect
        )
        if not outcome.sample.ok:
            why = outcome.sample.detail or outcome.sample.error or "failed"
            raise SteadyStateAborted(f"setup step `{step.name}` failed: {why}")
        context["setup"][step.name] = outcome.body if outcome.body is not None else {}


async def check_steady_state(
    client: httpx.AsyncClient, probes: list[Probe], clock: Clock, context: Mapping[str, Any]
) -> list[str]:
    """The reasons steady state does not hold (empty when it does); each check gets a few tries."""
    failures = []
    for index, probe in enumerate(probes):
        name = probe.name or f"steady-{index + 1}"
        reason = "not checked"
        for attempt in range(STEADY_ATTEMPTS):
            outcome = await perform(
                client, probe.request, source=name, clock=clock, context=context, check=probe.expect
            )
            if outcome.sample.ok:
                reason = ""
                break
            reason = outcome.sample.detail or outcome.sample.error or "failed"
            if attempt + 1 < STEADY_ATTEMPTS:
                await asyncio.sleep(STEADY_PAUSE)
        if reason:
            failures.append(f"{name} ({probe.request.method} {probe.request.path}): {reason}")
    return failures


def run_checks(
    scenario: Scenario,
    base_url: str,
    samples: Mapping[str, Any],
    *,
    resources: Mapping[str, str],
    context: Mapping[str, Any],
) -> dict[str, tuple[bool, str, str]]:
    """Call every registered check of the scenario (synchronously, in a worker thread).

    A check's `args` may use `${setup...}` references like any other string of the scenario.
    """
    results: dict[str, tuple[bool, str, str]] = {}
    with httpx.Client(base_url=base_url, timeout=10.0, verify=verify_tls(base_url)) as client:
        ctx = CheckContext(client=client, samples=samples, resources=resources)
        for window in ("before", "during", "after"):
            for index, exp in enumerate(getattr(scenario.expect, window)):
                if not isinstance(exp, CheckExpectation):
                    continue
                ident = f"{window}[{index}]"
                try:
                    outcome = resolve(exp.check)(ctx, **render(dict(exp.args), context))
                except Exception as error:
                    # A check that raises measured nothing: failing its expectation would blame the
                    # target for a bug in the check, so the scenario is an error instead.
                    raise CheckRaised(
                        f"check `{exp.check}` (expect.{ident}) raised {describe(error)}"
                    ) from error
                results[ident] = (outcome.passed, str(outcome.measured), outcome.detail)
    return results


async def run_teardown(
    client: httpx.AsyncClient, scenario: Scenario, clock: Clock, context: Mapping[str, Any]
) -> list[str]:
    """Make every teardown request; a failure is reported, never raised."""
    problems = []
    for request in scenario.teardown:
        try:
            outcome = await perform(client, request, source="teardown", clock=clock, context=context)
        except Exception as error:  # noqa: BLE001 - e.g. a reference to a setup step that failed
            problems.append(f"teardown {request.method} {request.path}: {error}")
            continue
        if outcome.sample.status == 0 or outcome.sample.status >= 400:
            problems.append(f"teardown {request.method} {request.path}: status {outcome.sample.status}")
    return problems
