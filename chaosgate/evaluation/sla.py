"""SLA profiles: named files of gates a run must pass (R6.1, R6.3).

A profile is looked up as ``sla/NAME.yaml`` in the working directory first,
then among the profiles chaosgate ships (``chaosgate/sla/``); a path to a
file works too. A scenario may override single gates by metric, and waive
gates by name that do not apply to it:
``sla: {profile: default, targets: ["p95 < 300ms"], waive: [throughput]}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chaosgate.exceptions import ScenarioErrors, UsageError
from chaosgate.scenario.diagnostics import model_errors
from chaosgate.scenario.marked_yaml import load_file
from chaosgate.scenario.model import Scenario, ThresholdSpec
from chaosgate.scenario.quantities import Threshold
from chaosgate.suggest import closest

BUNDLED = Path(__file__).resolve().parent.parent / "sla"
GateWindow = Literal["before", "during", "after", "steady", "run"]


class Gate(BaseModel):
    """One target of a profile, judged over one window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    metric: ThresholdSpec
    window: GateWindow = "steady"
    of: str | None = Field(default=None, description="`load` or `probes`; default all samples.")


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    min_score: float = Field(default=90.0, ge=0, le=100)
    gates: list[Gate] = Field(default_factory=list)

    def with_targets(self, targets: list[Threshold]) -> Profile:
        """This profile with the gates of the same metric replaced by `targets`."""
        gates = list(self.gates)
        for target in targets:
            replaced = False
            for index, gate in enumerate(gates):
                if gate.metric.metric == target.metric:
                    gates[index] = gate.model_copy(update={"metric": target})
                    replaced = True
            if not replaced:
                gates.append(Gate(name=target.metric, metric=target))
        return self.model_copy(update={"gates": gates})


def available_profiles(cwd: Path | None = None) -> dict[str, Path]:
    found = {p.stem: p for p in sorted(BUNDLED.glob("*.yaml"))}
    local = (cwd or Path.cwd()) / "sla"
    if local.is_dir():
        found.update({p.stem: p for p in sorted(local.glob("*.yaml"))})
    return found


def load_profile(name_or_path: str, cwd: Path | None = None) -> Profile:
    """A profile by name or file; input errors are located like scenario errors."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.is_file()):
        profiles = available_profiles(cwd)
        if name_or_path not in profiles:
            hint = closest(name_or_path, profiles)
            extra = f"; did you mean `{hint}`?" if hint else ""
            known = ", ".join(profiles)
            raise UsageError(f"no SLA profile `{name_or_path}` (known: {known}){extra}")
        path = profiles[name_or_path]
    documents = load_file(path)
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise UsageError(f"{path}: an SLA profile is one YAML mapping")
    try:
        return Profile.model_validate(documents[0].data)
    except ValidationError as error:
        keys = list(Profile.model_fields)
        raise ScenarioErrors(
            "invalid SLA profile", errors=model_errors(error, documents[0], keys=keys)
        ) from None


def profile_for(scenario: Scenario, override: str | None = None) -> Profile:
    """The profile a scenario is judged by: `--sla` if given, else its own, with its targets."""
    profile = load_profile(override or scenario.sla_profile)
    return profile if isinstance(scenario.sla, str) else profile.with_targets(list(scenario.sla.targets))
