"""A whole run: targets up, every scenario in turn, the verdict, the reports.

Scenarios are grouped by target so each target comes up once. SIGINT and
SIGTERM cancel the scenario in progress — its faults are reverted on the way
out — then the target is torn down and whatever was measured is still
reported, with the interruption as the reason the run is not Go.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import secrets
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaosgate.baseline import Tolerance, compare, regressions
from chaosgate.coverage import footprint, load_openapi
from chaosgate.engine.events import (
    EventBus,
    EventHandler,
    Message,
    RunFinished,
    RunStarted,
    ScenarioFinished,
    ScenarioStarted,
    TargetSettled,
)
from chaosgate.engine.journal import Journal
from chaosgate.engine.plan import Plan, build_plan
from chaosgate.engine.readiness import Settled, wait_until_ready
from chaosgate.engine.runner import Observation, ScenarioRunner
from chaosgate.evaluation.scoring import grade, suite_scores, verdict
from chaosgate.evaluation.sla import Profile, load_profile, profile_for
from chaosgate.exceptions import ChaosgateError, InfrastructureError
from chaosgate.exitcodes import ExitCode
from chaosgate.history import HistoryRecorder
from chaosgate.results import RunResult, ScenarioResult, Verdict
from chaosgate.scenario.loader import LoadedScenario
from chaosgate.target import Deployment, Target, load_target
from chaosgate.unexpected import as_chaosgate_error, describe

EVALUATION = "chaosgate.evaluation.assemble"
OPENAPI_FILE = "openapi.json"
EXIT_ON_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _assemble(plan: Plan, observation: Observation, profile: Profile) -> ScenarioResult:
    module = importlib.import_module(EVALUATION)  # warmed up in the background by `execute`
    result: ScenarioResult = module.assemble(plan, observation, profile)
    return result


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path
    state_dir: Path
    quick: bool = False
    target: str | None = None
    sla: str | None = None
    load_workers: int = 0
    settle_timeout: float | None = None
    debug: bool = False
    history_dir: Path | None = None
    baseline: RunResult | None = None
    tolerance: Tolerance = field(default_factory=Tolerance)


@dataclass
class SuiteRun:
    """One invocation of `chaosgate run`."""

    scenarios: Sequence[LoadedScenario]
    options: RunOptions
    handlers: Sequence[EventHandler] = ()
    run_id: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + secrets.token_hex(3)
    )
    interrupted: signal.Signals | None = None
    fatal: ChaosgateError | None = None
    output_failures: list[str] = field(default_factory=list)
    _bus: EventBus | None = field(default=None, repr=False)

    def plans(self) -> list[Plan]:
        quick, sla = self.options.quick, self.options.sla
        return [build_plan(loaded, quick=quick, sla=sla) for loaded in self.scenarios]

    def execute(self) -> RunResult:
        """Run everything; always returns a result (and has emitted RunFinished)."""
        # Evaluation needs pandas, whose import takes half a second: load it while faults run.
        threading.Thread(target=importlib.import_module, args=(EVALUATION,), daemon=True).start()
        return asyncio.run(self._main())

    async def _main(self) -> RunResult:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._on_loop_exception)
        task = asyncio.current_task()
        assert task is not None
        for signum in EXIT_ON_SIGNAL:
            loop.add_signal_handler(signum, self._on_signal, signum, task)
        self.options.out_dir.mkdir(parents=True, exist_ok=True)
        (self.options.out_dir / OPENAPI_FILE).unlink(missing_ok=True)  # an earlier run's target's
        recorders: list[EventHandler] = [Journal(self.options.out_dir / "journal.jsonl")]
        history = self.options.history_dir
        if history is not None:
            recorders.append(HistoryRecorder(history))
        bus = EventBus([*recorders, *self.handlers])
        self._bus = bus
        started, wall = time.monotonic(), datetime.now(UTC)
        results: list[ScenarioResult] = []
        plans: list[Plan] = []
        try:
            plans = self.plans()
            ids = tuple(p.scenario.id for p in plans)
            where = str(history) if history else None
            bus.emit(RunStarted(self.run_id, ids, str(self.options.out_dir), where))
            await self._run_targets(plans, bus, results)
        except asyncio.CancelledError:
            bus.emit(Message(f"interrupted by {self._signal_name()}: faults reverted", "error"))
        except Exception as error:  # noqa: BLE001 - the run always finishes and writes its reports
            self.fatal = as_chaosgate_error(error, debug=self.options.debug, context="the run")
            bus.emit(Message(self.fatal.render(), "error"))
        finally:
            for signum in EXIT_ON_SIGNAL:
                loop.remove_signal_handler(signum)
        result = self._result(results, plans, started, wall)
        bus.emit(RunFinished(result))
        bus.close()
        self.output_failures = _output_failures(bus)
        return result

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """A task nobody awaited failed: say so in one line instead of asyncio's traceback."""
        error = context.get("exception")
        text = describe(error) if isinstance(error, BaseException) else str(context.get("message"))
        if self.options.debug:
            loop.default_exception_handler(context)
        if self._bus is not None:
            self._bus.emit(Message(f"a background task failed: {text}", "warning"))

    def _on_signal(self, signum: signal.Signals, task: asyncio.Task[RunResult]) -> None:
        if self.interrupted is None:
            self.interrupted = signum
            task.cancel()

    def _signal_name(self) -> str:
        return self.interrupted.name if self.interrupted else "a signal"

    async def _run_targets(self, plans: list[Plan], bus: EventBus, results: list[ScenarioResult]) -> None:
        groups: dict[str, list[Plan]] = defaultdict(list)
        for plan in plans:
            groups[self.options.target or plan.scenario.target].append(plan)
        for name, group in groups.items():
            try:
                target = load_target(name, run_id=self.run_id, state_dir=self.options.state_dir)
                deployment = await asyncio.to_thread(target.up)
            except Exception as error:  # noqa: BLE001 - one target that cannot start never stops the others
                failure = as_chaosgate_error(error, debug=self.options.debug, context=f"target `{name}`")
                for plan in group:
                    results.append(self._finish(plan, self._failed(plan, Observation(error=failure)), bus))
                continue
            if deployment.openapi:
                await asyncio.to_thread(self._save_openapi, deployment.openapi, bus)
            try:
                for plan in group:
                    results.append(await self._run_one(plan, target, deployment, bus))
            finally:
                try:
                    target.down()  # synchronous: this may run during a cancellation
                except Exception as error:  # noqa: BLE001
                    problem = as_chaosgate_error(error, debug=self.options.debug, context=f"target `{name}`")
                    bus.emit(Message(f"could not take the target down: {problem.render()}", "error"))

    def _save_openapi(self, source: str, bus: EventBus) -> None:
        """Keep the target's OpenAPI document with the run, for the coverage matrix of its reports."""
        try:
            document = load_openapi(source)
        except ChaosgateError as error:
            bus.emit(Message(f"no coverage matrix by operation: {error.render()}", "warning"))
            return
        path = self.options.out_dir / OPENAPI_FILE
        path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

    async def _settle(self, plan: Plan, target: Target, deployment: Deployment, bus: EventBus) -> Settled:
        timeout = self.options.settle_timeout or target.spec.settle_timeout
        where = {"base_url": deployment.base_url, "name": deployment.name}
        context = {"env": dict(os.environ), "target": where}
        try:
            settled = await wait_until_ready(deployment.base_url, target.spec.readiness, timeout, context)
        except Exception as error:  # noqa: BLE001 - e.g. a readiness check naming an unset variable
            settled = Settled(False, 0.0, as_chaosgate_error(error, debug=self.options.debug).render())
        bus.emit(
            TargetSettled(plan.scenario.id, deployment.name, settled.ready, settled.seconds, settled.reason)
        )
        return settled

    async def _run_one(
        self, plan: Plan, target: Target, deployment: Deployment, bus: EventBus
    ) -> ScenarioResult:
        scenario = plan.scenario
        bus.emit(ScenarioStarted(scenario.id, scenario.title, tuple(plan.lines()), footprint(scenario)))
        missing = [name for name in scenario.requires if name not in deployment.resources]
        if missing:
            why = f"target `{deployment.name}` publishes no {', '.join(missing)}"
            return self._finish(plan, _assemble(plan, Observation(skipped=why), load_profile("default")), bus)
        settled = await self._settle(plan, target, deployment, bus)
        if not settled.ready:
            error = InfrastructureError(
                f"target `{deployment.name}` was not ready within {settled.seconds:g}s "
                f"of the scenario's start: {settled.reason}"
            )
            failed = self._failed(plan, Observation(error=error))
            return self._finish(plan, failed.model_copy(update={"settle_seconds": settled.seconds}), bus)
        runner = ScenarioRunner(
            plan,
            deployment,
            bus,
            run_id=self.run_id,
            work_dir=self.options.out_dir / "work",
            state_dir=self.options.state_dir,
            load_workers=self.options.load_workers,
        )
        try:
            observation = await runner.run()
        except asyncio.CancelledError:
            observation = runner.observation
            observation.error = ChaosgateError(f"interrupted by {self._signal_name()}")
            self._finish(plan, self._failed(plan, observation), bus)
            raise
        except Exception as error:  # noqa: BLE001 - a bug in one scenario never stops the suite
            observation = runner.observation
            observation.error = as_chaosgate_error(error, debug=self.options.debug)
        try:
            result = _assemble(plan, observation, profile_for(plan.scenario, self.options.sla))
        except Exception as error:  # noqa: BLE001
            observation.error = as_chaosgate_error(error, debug=self.options.debug, context="evaluation")
            result = self._failed(plan, observation)
        return self._finish(plan, result.model_copy(update={"settle_seconds": settled.seconds}), bus)

    @staticmethod
    def _finish(plan: Plan, result: ScenarioResult, bus: EventBus) -> ScenarioResult:
        bus.emit(ScenarioFinished(plan.scenario.id, result.status, result.score, result))
        return result

    def _failed(self, plan: Plan, observation: Observation) -> ScenarioResult:
        """A result that reports `observation.error` (or `aborted`) without judging samples."""
        return _assemble(
            plan,
            Observation(error=observation.error, duration=observation.duration, faults=observation.faults),
            load_profile("default"),
        )

    def _result(
        self, results: list[ScenarioResult], plans: list[Plan], started: float, wall: datetime
    ) -> RunResult:
        ran = {r.id for r in results}
        for plan in plans:
            if plan.scenario.id not in ran:
                cause = self.fatal.render() if self.fatal else f"interrupted by {self._signal_name()}"
                results.append(self._failed(plan, Observation(error=ChaosgateError(f"not run: {cause}"))))
        try:
            profile = load_profile(self.options.sla or "default")
        except ChaosgateError as error:  # checked before the run starts; kept so RunFinished always goes out
            self.fatal = self.fatal or error
            profile = load_profile("default")
        score, categories = suite_scores(results)
        decision = verdict(results, score, profile.min_score)
        if self.fatal is not None:
            decision = decision.model_copy(
                update={
                    "decision": "no-go",
                    "reasons": [f"the run failed: {self.fatal.render()}", *decision.reasons],
                    "exit_code": int(self.fatal.exit_code),
                }
            )
        if self.options.baseline is not None:
            decision = _against_baseline(decision, self.options.baseline, results, self.options.tolerance)
        if self.interrupted is not None:
            reasons = [f"run interrupted by {self._signal_name()}", *decision.reasons]
            decision = decision.model_copy(
                update={
                    "decision": "no-go",
                    "reasons": reasons,
                    "exit_code": EXIT_ON_SIGNAL[self.interrupted],
                }
            )
        return RunResult(
            run_id=self.run_id,
            started_at=wall.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            duration=round(time.monotonic() - started, 3),
            sla_profile=profile.name,
            min_score=profile.min_score,
            score=score,
            grade=grade(score),
            categories=categories,
            verdict=decision,
            scenarios=results,
        )


def _against_baseline(
    decision: Verdict, baseline: RunResult, results: list[ScenarioResult], tolerance: Tolerance
) -> Verdict:
    """A regression against the baseline is a No-Go, with each regression as a reason."""
    score, categories = suite_scores(results)
    current = baseline.model_copy(update={"score": score, "categories": categories, "scenarios": results})
    found = regressions(compare(baseline, current, tolerance))
    if not found:
        return decision
    reasons = [
        f"regression against baseline {baseline.run_id}: {d.line().removeprefix('regression: ')}"
        for d in found
    ]
    exit_code = decision.exit_code if decision.exit_code != ExitCode.GO else int(ExitCode.NO_GO)
    return decision.model_copy(
        update={"decision": "no-go", "reasons": [*decision.reasons, *reasons], "exit_code": exit_code}
    )


def _output_failures(bus: EventBus) -> list[str]:
    """One line per report writer that failed, naming the file it did not write."""
    by_name = {type(handler).__name__: handler for handler in bus.handlers}
    lines = []
    for failure in bus.failures:
        path = getattr(by_name.get(failure.handler), "path", None)
        missing = f"{path} is missing or incomplete" if path else "its output is missing"
        lines.append(f"{failure.handler} failed on {failure.event} ({failure.error}): {missing}")
    return lines
