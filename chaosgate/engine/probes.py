"""Probes: requests sampled on their own fixed-rate schedule for the whole run (R2.3).

A probe starts one request per tick whether or not the previous one has
answered, so a dependency that hangs for seconds is still sampled at the
probe's rate and the hang is visible as it happens. In-flight requests are
bounded; a tick that finds the bound reached is skipped, not queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from chaosgate.engine.http import Clock, perform
from chaosgate.engine.samples import Sample
from chaosgate.scenario.model import Request, ResponseCheck

MAX_IN_FLIGHT = 64


@dataclass(frozen=True)
class ProbeSpec:
    """A request to sample: its name in reports, its check, and its interval."""

    name: str
    request: Request
    check: ResponseCheck | None
    every: float
    from_expectation: bool = False


@dataclass
class ProbeStats:
    started: int = 0
    skipped: int = 0


async def run_probe(
    spec: ProbeSpec,
    *,
    client: httpx.AsyncClient,
    clock: Clock,
    context: Mapping[str, Any],
    record: Callable[[Sample], None],
    stop: asyncio.Event,
    until: float,
) -> ProbeStats:
    """Sample `spec` every `spec.every` seconds until `stop` is set or the clock reaches `until`."""
    stats = ProbeStats()
    in_flight: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    def finished(task: asyncio.Task[None]) -> None:
        in_flight.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            failures.append(error)

    async def one() -> None:
        outcome = await perform(
            client,
            spec.request,
            source=spec.name,
            clock=clock,
            context=context,
            check=spec.check,
            expected_source=spec.from_expectation,
        )
        record(outcome.sample)

    next_tick = clock.now()
    try:
        while not stop.is_set() and clock.now() < until and not failures:
            if len(in_flight) < MAX_IN_FLIGHT:
                task = asyncio.create_task(one())
                in_flight.add(task)
                task.add_done_callback(finished)
                stats.started += 1
            else:
                stats.skipped += 1
            next_tick += spec.every
            now = clock.now()
            if next_tick < now:  # fell behind (a slow loop): skip the missed ticks
                stats.skipped += int((now - next_tick) / spec.every)
                next_tick = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(next_tick - now, 0))
    finally:
        if in_flight:
            # Let requests already started finish (each is bounded by its timeout).
            timeout = spec.request.timeout + 1.0
            _, pending = await asyncio.wait(in_flight, timeout=timeout)
            for task in pending:
                task.cancel()
    if failures:
        # A request that could not even be made (a reference with no value, a bug) ends
        # the scenario with its reason, instead of being logged as never retrieved.
        raise failures[0]
    return stats
