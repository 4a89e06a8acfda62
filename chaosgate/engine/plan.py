"""The plan of a scenario: what is injected where, when and for how long.

Planning is pure: it touches nothing, so `chaosgate run --dry-run` prints
exactly what a real run would do. `--quick` shortens every window for CI
smoke runs, never below what the scenario's expectations need (see
:mod:`chaosgate.engine.quick`).
"""

from __future__ import annotations

from dataclasses import dataclass

from chaosgate.engine.probes import ProbeSpec
from chaosgate.engine.quick import MIN_WINDOW, QUICK_FACTOR, shorten, window_needs
from chaosgate.evaluation.sla import profile_for
from chaosgate.exceptions import SourceSpan
from chaosgate.injector import InjectionContext, InjectorParams
from chaosgate.plugins import injector_types
from chaosgate.scenario.loader import LoadedScenario
from chaosgate.scenario.model import Load, RequestExpectation, Scenario
from chaosgate.scenario.quantities import format_duration


@dataclass(frozen=True)
class PlannedFault:
    """One fault on the scenario clock (seconds from the start of sampling)."""

    name: str
    injector: str
    params: InjectorParams
    at: float
    duration: float
    description: str

    @property
    def end(self) -> float:
        return self.at + self.duration


@dataclass(frozen=True)
class Plan:
    """Everything a run of one scenario will do, in order, with its durations."""

    scenario: Scenario
    source: SourceSpan
    faults: tuple[PlannedFault, ...]
    probes: tuple[ProbeSpec, ...]
    load: Load | None
    observe: float
    scale: float

    @property
    def fault_phase_end(self) -> float:
        return max((f.end for f in self.faults), default=0.0)

    @property
    def duration(self) -> float:
        """How long sampling lasts: past the last fault by `observe`, and as long as the load."""
        load = self.load.duration if self.load else 0.0
        return max(self.fault_phase_end + self.observe, load)

    def lines(self) -> list[str]:
        """The plan as a person reads it (`--dry-run`)."""
        s = self.scenario
        out = [f"scenario {s.id}: {s.title}", f"  from {self.source}", f"  target {s.target}, SLA {_sla(s)}"]
        if self.scale != 1.0:
            out.append(f"  durations scaled by {self.scale:g} (--quick), windows kept long enough to judge")
        for step in s.setup:
            out.append(f"  setup {step.name}: {step.request.method} {step.request.path}")
        out.append(
            f"  steady state: {len(s.steady_state)} check(s) must hold before faults and after recovery"
        )
        for probe in self.probes:
            request = f"{probe.request.method} {probe.request.path}"
            out.append(f"  probe {probe.name}: {request} every {format_duration(probe.every)}")
        if self.load:
            out.append(
                f"  load: {self.load.users} users (spawn {self.load.spawn_rate:g}/s) for "
                f"{format_duration(self.load.duration)}, {len(self.load.mix)} request(s) in the mix"
            )
        for fault in self.faults:
            out.append(
                f"  t={format_duration(fault.at)}..{format_duration(fault.end)} "
                f"inject {fault.name}: {fault.description}"
            )
        out.append(
            f"  sampling ends at t={format_duration(self.duration)}; then steady state again and teardown"
        )
        return out


def _sla(scenario: Scenario) -> str:
    return scenario.sla if isinstance(scenario.sla, str) else scenario.sla.profile


def _probes(scenario: Scenario) -> list[ProbeSpec]:
    probes: list[ProbeSpec] = []
    for index, probe in enumerate(scenario.steady_state):
        name = probe.name or f"steady-{index + 1}"
        probes.append(ProbeSpec(name, probe.request, probe.expect, probe.every))
    for index, probe in enumerate(scenario.probes):
        probes.append(ProbeSpec(probe.name or f"probe-{index + 1}", probe.request, probe.expect, probe.every))
    for window in ("before", "during", "after"):
        for index, expectation in enumerate(getattr(scenario.expect, window)):
            if isinstance(expectation, RequestExpectation):
                name = f"expect.{window}[{index}]"
                # Only a `during` expectation describes a degraded answer that was asked for.
                asked = window == "during"
                probes.append(ProbeSpec(name, expectation.request, expectation, expectation.every, asked))
    return probes


def build_plan(loaded: LoadedScenario, *, quick: bool = False, sla: str | None = None) -> Plan:
    """The plan of one loaded scenario; `quick` shortens it as far as its expectations allow.

    `sla` is the `--sla` override: the gates of the profile judged are part of
    what a quick window must leave room for.
    """
    scenario = loaded.scenario
    needs = window_needs(scenario, profile_for(scenario, sla)) if quick else None
    registry = injector_types()
    dry = InjectionContext(run_id="plan")
    faults = []
    first = min((fault.at for fault in scenario.faults), default=0.0)
    # Quick keeps the faults' order and spacing (scaled), moved so the first starts after a
    # long enough before-window.
    shift = max(needs.before - first * QUICK_FACTOR, 0.0) if needs else 0.0
    for index, (fault, params) in enumerate(zip(scenario.faults, loaded.fault_params, strict=True)):
        injector = registry[fault.injector](params, dry)
        faults.append(
            PlannedFault(
                name=fault.name or f"fault-{index + 1}",
                injector=fault.injector,
                params=params,
                at=min(fault.at, fault.at * QUICK_FACTOR + shift) if needs else fault.at,
                duration=shorten(fault.for_, needs.during) if needs else fault.for_,
                description=injector.describe(),
            )
        )
    observe = scenario.observe
    if needs:
        observe = shorten(observe, needs.after if faults else needs.before + needs.after)
    load = scenario.load
    if load is not None and needs is not None:
        # A load that ran through the faults and the after-window still does.
        original_end = max((f.at + f.for_ for f in scenario.faults), default=0.0) + scenario.observe
        new_end = max((f.end for f in faults), default=0.0) + observe
        floor = new_end if load.duration >= original_end else MIN_WINDOW
        load = load.model_copy(update={"duration": shorten(load.duration, floor)})
    return Plan(
        scenario=scenario,
        source=loaded.source,
        faults=tuple(faults),
        probes=tuple(_probes(scenario)),
        load=load,
        observe=observe,
        scale=QUICK_FACTOR if quick else 1.0,
    )
