"""A whole run: targets up, every scenario in turn, the verdict, the reports.

Scenarios are grouped by target so each target comes up once. SIGINT and
SIGTERM cancel the scenario in progress — its faults are reverted on the way
out — then the target is torn down and whatever was measured is still
reported, with the interruption as the reason the run is not Go.
"""

from __future__ import annotations

import asyncio
import importlib
import secrets
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from chaosgate.engine.events import (
    EventBus,
    EventHandler,
    Message,
    RunFinished,
    RunStarted,
    ScenarioFinished,
    ScenarioStarted,
)
from chaosgate.engine.journal import Journal
from chaosgate.engine.plan import Plan, build_plan
from chaosgate.engine.runner import Observation, ScenarioRunner
from chaosgate.evaluation.scoring import grade, suite_scores, verdict
from chaosgate.evaluation.sla import Profile, load_profile, profile_for
from chaosgate.exceptions import ChaosgateError
from chaosgate.results import RunResult, ScenarioResult
from chaosgate.scenario.loader import LoadedScenario
from chaosgate.target import Deployment, load_target

EVALUATION = "chaosgate.evaluation.assemble"
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

    def plans(self) -> list[Plan]:
        return [build_plan(loaded, quick=self.options.quick) for loaded in self.scenarios]

    def execute(self) -> RunResult:
        """Run everything; always returns a result (and has emitted RunFinished)."""
        # Evaluation needs pandas, whose import takes half a second: load it while faults run.
        threading.Thread(target=importlib.import_module, args=(EVALUATION,), daemon=True).start()
        return asyncio.run(self._main())

    async def _main(self) -> RunResult:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in EXIT_ON_SIGNAL:
            loop.add_signal_handler(signum, self._on_signal, signum, task)
        self.options.out_dir.mkdir(parents=True, exist_ok=True)
        bus = EventBus([Journal(self.options.out_dir / "journal.jsonl"), *self.handlers])
        started, wall = time.monotonic(), datetime.now(UTC)
        plans = self.plans()
        bus.emit(RunStarted(self.run_id, tuple(p.scenario.id for p in plans), str(self.options.out_dir)))
        results: list[ScenarioResult] = []
        try:
            await self._run_targets(plans, bus, results)
        except asyncio.CancelledError:
            bus.emit(Message(f"interrupted by {self._signal_name()}: faults reverted", "error"))
        finally:
            for signum in EXIT_ON_SIGNAL:
                loop.remove_signal_handler(signum)
        result = self._result(results, plans, started, wall)
        bus.emit(RunFinished(result))
        bus.close()
        return result

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
            except ChaosgateError as error:
                results += [self._failed(p, Observation(error=error)) for p in group]
                continue
            try:
                for plan in group:
                    results.append(await self._run_one(plan, deployment, bus))
            finally:
                target.down()

    async def _run_one(self, plan: Plan, deployment: Deployment, bus: EventBus) -> ScenarioResult:
        bus.emit(ScenarioStarted(plan.scenario.id, plan.scenario.title, tuple(plan.lines())))
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
            result = self._failed(plan, observation)
            bus.emit(ScenarioFinished(plan.scenario.id, result.status, result.score, result))
            raise
        result = _assemble(plan, observation, profile_for(plan.scenario, self.options.sla))
        bus.emit(ScenarioFinished(plan.scenario.id, result.status, result.score, result))
        return result

    def _failed(self, plan: Plan, observation: Observation) -> ScenarioResult:
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
                why = f"not run: interrupted by {self._signal_name()}"
                results.append(self._failed(plan, Observation(error=ChaosgateError(why))))
        profile = load_profile(self.options.sla or "default")
        score, categories = suite_scores(results)
        decision = verdict(results, score, profile.min_score)
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
