"""One scenario from steady state to verdict (R2.1).

setup → steady state (else aborted) → probes, load and the fault schedule
together → every fault reverted → steady state again → checks → teardown →
evaluation. The ``finally`` around the sampling phase is the revert
guarantee: a failure, a timeout or a cancellation (SIGINT, SIGTERM) all pass
through it before anything else happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from chaosgate.engine.events import EventBus, Message, PhaseChanged, SampleTaken
from chaosgate.engine.faults import FaultController, FaultRecord
from chaosgate.engine.http import Clock, verify_tls
from chaosgate.engine.loadgen import LoadProcess
from chaosgate.engine.phases import check_steady_state, run_checks, run_setup, run_teardown
from chaosgate.engine.plan import Plan
from chaosgate.engine.probes import run_probe
from chaosgate.engine.samples import Sample
from chaosgate.engine.streams import StreamLog, StreamSubscriber, stream_url
from chaosgate.exceptions import ChaosgateError, SteadyStateAborted
from chaosgate.injector import InjectionContext
from chaosgate.target import Deployment

SETUP_ALLOWANCE = 120.0


@dataclass
class Observation:
    """What one scenario run saw: samples, the fault timeline, and the outcome of each phase."""

    samples: list[Sample] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    end: float = 0.0
    aborted: str = ""
    skipped: str = ""
    error: ChaosgateError | None = None
    steady_after: list[str] = field(default_factory=list)
    checks: dict[str, tuple[bool, str, str]] = field(default_factory=dict)
    teardown_problems: list[str] = field(default_factory=list)
    duration: float = 0.0
    streams: dict[str, StreamLog] = field(default_factory=dict)


def _first_leaf(group: BaseExceptionGroup[ChaosgateError]) -> ChaosgateError:
    """The first real error inside nested task groups (the one that ended the run)."""
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    assert isinstance(first, ChaosgateError)
    return first


class ScenarioRunner:
    """Runs one plan against one deployment, emitting events on `bus`."""

    def __init__(
        self,
        plan: Plan,
        deployment: Deployment,
        bus: EventBus,
        *,
        run_id: str,
        work_dir: Path,
        state_dir: Path,
        load_workers: int = 0,
    ) -> None:
        self.plan = plan
        self.deployment = deployment
        self.bus = bus
        self.run_id = run_id
        self.work_dir = work_dir
        self.state_dir = state_dir
        self.load_workers = load_workers
        self.observation = Observation()
        self.context: dict[str, Any] = {
            "setup": {},
            "env": dict(os.environ),
            "target": {"base_url": deployment.base_url, "name": deployment.name},
            # started_at (Unix seconds) lets a scenario send a current request timestamp,
            # e.g. X-Request-Timestamp for an API with replay protection.
            "run": {"id": run_id, "started_at": int(time.time())},
        }

    @property
    def scenario_id(self) -> str:
        return self.plan.scenario.id

    def _phase(self, name: str, clock: Clock) -> None:
        self.bus.emit(PhaseChanged(self.scenario_id, name, clock.now()))

    def _record(self, sample: Sample) -> None:
        self.observation.samples.append(sample)
        self.bus.emit(SampleTaken(self.scenario_id, sample))

    async def run(self) -> Observation:
        started = time.monotonic()
        limit = self.plan.duration + SETUP_ALLOWANCE
        try:
            async with (
                asyncio.timeout(limit),
                httpx.AsyncClient(
                    base_url=self.deployment.base_url, verify=verify_tls(self.deployment.base_url)
                ) as client,
            ):
                await self._lifecycle(client)
        except SteadyStateAborted as error:
            self.observation.aborted = error.render()
        except TimeoutError:
            self.observation.error = ChaosgateError(f"the scenario did not finish within {limit:.0f}s")
        except ChaosgateError as error:
            self.observation.error = error
        finally:
            self.observation.duration = time.monotonic() - started
        return self.observation

    async def _lifecycle(self, client: httpx.AsyncClient) -> None:
        pre = Clock(time.monotonic())
        self._phase("setup", pre)
        try:
            await run_setup(client, self.plan.scenario, pre, self.context)
            self._phase("steady-state", pre)
            failures = await check_steady_state(client, self.plan.scenario.steady_state, pre, self.context)
            if failures:
                raise SteadyStateAborted("steady state did not hold before faults: " + "; ".join(failures))
            await self._sampling(client)
            self._phase("steady-state-after", Clock(pre.zero))
            self.observation.steady_after = await check_steady_state(
                client, self.plan.scenario.steady_state, pre, self.context
            )
            by_source: dict[str, list[Sample]] = {}
            for sample in self.observation.samples:
                by_source.setdefault(sample.source, []).append(sample)
            self.observation.checks = await asyncio.to_thread(
                run_checks,
                self.plan.scenario,
                self.deployment.base_url,
                by_source,
                resources=self.deployment.resources,
                context=self.context,
            )
        finally:
            self._phase("teardown", pre)
            self.observation.teardown_problems = await run_teardown(
                client, self.plan.scenario, pre, self.context
            )

    @staticmethod
    async def _sleep_then_stop(seconds: float, stop: asyncio.Event) -> None:
        await asyncio.sleep(seconds)
        stop.set()

    async def _sampling(self, client: httpx.AsyncClient) -> None:
        clock = Clock(time.monotonic())
        context = InjectionContext(
            run_id=self.run_id,
            state_dir=self.state_dir,
            resources=self.deployment.resources,
        )
        controller = FaultController(self.plan, context, clock, self.bus.emit)
        load = None
        if self.plan.load is not None:
            load = LoadProcess(
                self.plan.load,
                base_url=self.deployment.base_url,
                clock_zero=clock.zero,
                work_dir=self.work_dir / self.scenario_id,
                context=self.context,
                workers=self.load_workers,
            )
        subscribers = [
            StreamSubscriber(
                spec,
                stream_url(self.deployment.base_url, spec.path, self.deployment.resources, spec.name),
                clock,
                self.context,
            )
            for spec in self.plan.scenario.streams
        ]
        self.observation.streams = {s.spec.name: s.log for s in subscribers}
        stop = asyncio.Event()
        self._phase("sampling", clock)
        try:
            if load is not None:
                load.start()
            async with asyncio.TaskGroup() as group:
                for spec in self.plan.probes:
                    group.create_task(
                        run_probe(
                            spec,
                            client=client,
                            clock=clock,
                            context=self.context,
                            record=self._record,
                            stop=stop,
                            until=self.plan.duration,
                        )
                    )
                for subscriber in subscribers:
                    group.create_task(subscriber.run(stop))
                group.create_task(controller.run())
                group.create_task(self._sleep_then_stop(self.plan.duration, stop))
        except* ChaosgateError as group_error:
            raise _first_leaf(group_error) from None
        finally:
            stop.set()
            controller.revert_all()
            self.observation.faults = list(controller.records.values())
            self.observation.end = clock.now()
            if load is not None:
                load.stop()  # synchronous and bounded: this may run during a cancellation
                for sample in load.samples():
                    self._record(sample)
            if subscribers and not controller.still_injected:
                with contextlib.suppress(Exception):  # a failed drain shows as lost events
                    await asyncio.gather(*(s.drain() for s in subscribers))
            left = controller.still_injected
            if left:
                self.bus.emit(Message(f"could not revert: {', '.join(left)}", "error", self.scenario_id))
