"""Names a scenario gives to things outside its file: target files, SLA profiles, their gates.

They are resolved when a scenario is loaded — by `chaosgate validate` and at
the start of `chaosgate run`, before any target comes up — so a misspelt name
is an error on the line that names it, with the closest valid name, and a run
never injects a fault for a scenario it could not have judged. Resolving
reads files and installed plugins only; no target is started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chaosgate.evaluation.sla import Profile, available_profiles, load_profile
from chaosgate.exceptions import ScenarioError, ScenarioErrors, SourceSpan, UsageError
from chaosgate.scenario.diagnostics import located
from chaosgate.scenario.marked_yaml import MarkedDocument, PathKey
from chaosgate.scenario.model import Scenario
from chaosgate.suggest import closest
from chaosgate.target import find_target_file, read_target, target_names


@dataclass
class _Lookup:
    """What one name resolved to: the file it names, or why it names nothing usable."""

    path: Path | None = None
    missing: bool = False
    file_errors: list[ScenarioError] = field(default_factory=list)
    reported: bool = False


def _file_errors(path: Path, error: UsageError) -> list[ScenarioError]:
    """The errors of a target or profile file, each located in that file."""
    if isinstance(error, ScenarioErrors):
        return list(error.errors)
    if isinstance(error, ScenarioError):
        return [error]
    return [ScenarioError(str(error), span=SourceSpan(str(path), 1, 1))]


@dataclass
class NameResolver:
    """Resolves the outside names of every scenario of one validation, each name once.

    A suite names the same target and profile many times; each file is read
    once and its own errors are reported once, with the first scenario that
    names it.
    """

    cwd: Path | None = None
    _targets: dict[str, _Lookup] = field(default_factory=dict)
    _profiles: dict[str, tuple[_Lookup, Profile | None]] = field(default_factory=dict)

    def errors(self, doc: MarkedDocument, scenario: Scenario) -> list[ScenarioError]:
        """Every name of `scenario` that resolves to nothing, located in `doc`."""
        errors = self._target_errors(doc, scenario.target)
        sla_path: PathKey = ("sla",) if isinstance(scenario.sla, str) else ("sla", "profile")
        lookup, profile = self._profile(scenario.sla_profile)
        name = scenario.sla_profile
        errors += _name_errors(doc, sla_path, lookup, what="SLA profile", name=name, known=self.profiles())
        if profile is not None:
            errors += _waive_errors(doc, scenario, profile)
        return errors

    def profiles(self) -> list[str]:
        return list(available_profiles(self.cwd))

    def _target_errors(self, doc: MarkedDocument, name: str) -> list[ScenarioError]:
        lookup = self._targets.get(name)
        if lookup is None:
            lookup = self._targets[name] = self._read_target(name)
        return _name_errors(doc, ("target",), lookup, what="target", name=name, known=target_names(self.cwd))

    def _read_target(self, name: str) -> _Lookup:
        try:
            path = find_target_file(name, self.cwd)
        except UsageError:
            return _Lookup(missing=True)
        try:
            read_target(str(path), self.cwd)
        except UsageError as error:
            return _Lookup(path=path, file_errors=_file_errors(path, error))
        return _Lookup(path=path)

    def _profile(self, name: str) -> tuple[_Lookup, Profile | None]:
        if name not in self._profiles:
            self._profiles[name] = self._read_profile(name)
        return self._profiles[name]

    def _read_profile(self, name: str) -> tuple[_Lookup, Profile | None]:
        path = Path(name)
        if not (path.suffix in (".yaml", ".yml") and path.is_file()):
            found = available_profiles(self.cwd).get(name)
            if found is None:
                return _Lookup(missing=True), None
            path = found
        try:
            return _Lookup(path=path), load_profile(str(path), self.cwd)
        except UsageError as error:
            return _Lookup(path=path, file_errors=_file_errors(path, error)), None


def _name_errors(
    doc: MarkedDocument, path: PathKey, lookup: _Lookup, *, what: str, name: str, known: list[str]
) -> list[ScenarioError]:
    """The error of a name that resolves to nothing or to a file with errors (those once)."""
    if lookup.missing:
        return [
            located(
                doc,
                path,
                f"no {what} `{name}`",
                expected="one of " + (", ".join(f"`{k}`" for k in known) or "(none found)"),
                suggestion=closest(name, known),
            )
        ]
    if not lookup.file_errors:
        return []
    errors = [located(doc, path, f"{what} `{name}` ({lookup.path}) is not valid: see its own errors")]
    if not lookup.reported:
        lookup.reported = True
        errors += lookup.file_errors
    return errors


def _waive_errors(doc: MarkedDocument, scenario: Scenario, profile: Profile) -> list[ScenarioError]:
    """Each waived gate must be a gate of the profile the scenario names."""
    gates = [gate.name for gate in profile.gates]
    return [
        located(
            doc,
            ("sla", "waive", index),
            f"SLA profile `{profile.name}` has no gate `{waived}` to waive",
            expected="one of " + (", ".join(f"`{g}`" for g in gates) or "(no gates)"),
            suggestion=closest(waived, gates),
        )
        for index, waived in enumerate(scenario.waived_gates)
        if waived not in gates
    ]


def check_overrides(target: str | None, sla: str | None, cwd: Path | None = None) -> None:
    """The `--target` and `--sla` of a run name a valid target file and profile, or UsageError."""
    if target is not None:
        read_target(target, cwd)
    if sla is not None:
        load_profile(sla, cwd)
