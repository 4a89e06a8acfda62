"""The plan of a scenario: what is injected where, when and for how long.

Planning is pure: it touches nothing, so `chaosgate run --dry-run` prints
exactly what a real run would do. `--quick` scales every duration of the
scenario by one factor (with a floor, so no window shrinks to nothing) for
CI smoke runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaosgate.engine.probes import ProbeSpec
from chaosgate.exceptions import SourceSpan
from chaosgate.injector import InjectionContext, InjectorParams
from chaosgate.plugins import injector_types
from chaosgate.scenario.loader import LoadedScenario
from chaosgate.scenario.model import Load, RequestExpectation, Scenario
from chaosgate.scenario.quantities import format_duration

QUICK_FACTOR = 0.2
MIN_WINDOW = 1.0
DEFAULT_EVERY = 0.1


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
            out.append(f"  durations scaled by {self.scale:g} (--quick)")
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


def _scaled(value: float, scale: float) -> float:
    return value if scale == 1.0 else max(value * scale, MIN_WINDOW)


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
                probes.append(ProbeSpec(name, expectation.request, expectation, DEFAULT_EVERY, asked))
    return probes


def build_plan(loaded: LoadedScenario, *, quick: bool = False) -> Plan:
    """The plan of one loaded scenario; `quick` scales its durations down for smoke runs."""
    scale = QUICK_FACTOR if quick else 1.0
    scenario = loaded.scenario
    registry = injector_types()
    dry = InjectionContext(run_id="plan")
    faults = []
    for index, (fault, params) in enumerate(zip(scenario.faults, loaded.fault_params, strict=True)):
        injector = registry[fault.injector](params, dry)
        faults.append(
            PlannedFault(
                name=fault.name or f"fault-{index + 1}",
                injector=fault.injector,
                params=params,
                at=fault.at * scale,
                duration=_scaled(fault.for_, scale),
                description=injector.describe(),
            )
        )
    load = scenario.load
    if load is not None and scale != 1.0:
        load = load.model_copy(update={"duration": _scaled(load.duration, scale)})
    return Plan(
        scenario=scenario,
        source=loaded.source,
        faults=tuple(faults),
        probes=tuple(_probes(scenario)),
        load=load,
        observe=_scaled(scenario.observe, scale),
        scale=scale,
    )
