"""From YAML files to frozen scenarios: parse with marks, validate, build, cross-check.

Loading never touches a system. Every problem in every file is collected
before anything is reported, so `chaosgate validate scenarios/` lists all of
them at once, each with its file, line and column. That includes the names a
scenario gives to things outside its file (targets, SLA profiles and their
gates, environment variables), so a run that loads cleanly can be judged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from pydantic import ValidationError

from chaosgate.exceptions import ScenarioError, ScenarioErrors, SourceSpan, UsageError
from chaosgate.injector import InjectorParams
from chaosgate.plugins import injector_types
from chaosgate.scenario.consistency import consistency_errors
from chaosgate.scenario.diagnostics import located, model_errors, schema_errors
from chaosgate.scenario.marked_yaml import MarkedDocument, load_file
from chaosgate.scenario.model import Scenario
from chaosgate.scenario.resolution import NameResolver
from chaosgate.scenario.schema import COMMITTED_SCHEMA, scenario_schema

SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedScenario:
    """A valid scenario, where it came from, and its faults' typed parameters."""

    scenario: Scenario
    source: SourceSpan
    fault_params: tuple[InjectorParams, ...]


@cache
def _validator() -> Draft202012Validator:
    # The committed schema is the generated one whenever it names exactly the installed
    # injectors (a test keeps it current); generating it means importing every backend.
    # The schema is checked against the metaschema by the test suite, not on every run.
    committed = json.loads(COMMITTED_SCHEMA.read_text(encoding="utf-8")) if COMMITTED_SCHEMA.exists() else {}
    names = committed.get("$defs", {}).get("Fault", {}).get("properties", {}).get("injector", {}).get("enum")
    if names == list(injector_types()):
        return Draft202012Validator(committed)
    return Draft202012Validator(scenario_schema())


NOT_SCENARIOS = frozenset({"targets", "sla", "out", "node_modules", "__pycache__"})
"""Folders under a scanned folder that hold other YAML: target files, SLA profiles, outputs."""


def _skipped(relative: Path) -> bool:
    return any(part in NOT_SCENARIOS or part.startswith(".") for part in relative.parts[:-1])


def discover(paths: Iterable[Path]) -> list[Path]:
    """Scenario files named directly or found below folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in SCENARIO_SUFFIXES and p.is_file() and not _skipped(p.relative_to(path))
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    return found


def _fault_params(
    doc: MarkedDocument, scenario: Scenario
) -> tuple[list[InjectorParams], list[ScenarioError]]:
    params: list[InjectorParams] = []
    errors: list[ScenarioError] = []
    registry = injector_types()
    for index, fault in enumerate(scenario.faults):
        injector = registry.get(fault.injector)
        if injector is None:  # the schema rejects it first; kept for third-party registries
            errors.append(located(doc, ("faults", index, "injector"), f"unknown injector `{fault.injector}`"))
            continue
        try:
            params.append(injector.Params.model_validate(fault.params))
        except ValidationError as error:
            errors.extend(model_errors(error, doc, ("faults", index)))
    return params, errors


def load_document(doc: MarkedDocument, names: NameResolver | None = None) -> LoadedScenario:
    """One YAML document as a scenario, or ScenarioErrors listing every problem in it.

    `${env.NAME}` references are checked against this process's environment.
    """
    if not isinstance(doc.data, dict):
        raise ScenarioErrors(
            "invalid scenario",
            errors=[
                located(
                    doc,
                    (),
                    "a scenario must be a mapping of keys such as `id`, `title`, `faults`",
                    expected="a YAML mapping",
                )
            ],
        )
    errors = schema_errors(_validator(), doc)
    if errors:
        raise ScenarioErrors("invalid scenario", errors=errors)
    try:
        scenario = Scenario.model_validate(doc.data)
    except ValidationError as error:
        raise ScenarioErrors("invalid scenario", errors=model_errors(error, doc)) from None
    params, errors = _fault_params(doc, scenario)
    errors += consistency_errors(doc, scenario, os.environ)
    errors += (names or NameResolver()).errors(doc, scenario)
    if errors:
        ours = [e for e in errors if e.span is None or e.span.file == doc.file]
        ours.sort(key=lambda e: (e.span.line, e.span.column) if e.span else (0, 0))
        raise ScenarioErrors("invalid scenario", errors=ours + [e for e in errors if e not in ours])
    return LoadedScenario(scenario=scenario, source=doc.span_for(()), fault_params=tuple(params))


def _load_one(
    path: Path, loaded: list[LoadedScenario], errors: list[ScenarioError], names: NameResolver
) -> None:
    try:
        documents = load_file(path)
    except ScenarioError as error:
        errors.append(error)
        return
    if not documents:
        errors.append(
            ScenarioError(
                "the file holds no scenario",
                span=SourceSpan(str(path), 1, 1),
                expected="a YAML mapping with `id`, `title`, ...",
            )
        )
    for doc in documents:
        try:
            loaded.append(load_document(doc, names))
        except ScenarioErrors as error:
            errors.extend(error.errors)


def _duplicate_ids(loaded: Sequence[LoadedScenario]) -> list[ScenarioError]:
    first: dict[str, LoadedScenario] = {}
    errors = []
    for item in loaded:
        previous = first.setdefault(item.scenario.id, item)
        if previous is not item:
            errors.append(
                ScenarioError(
                    f"duplicate scenario id `{item.scenario.id}` (also at {previous.source})",
                    span=item.source,
                )
            )
    return errors


@dataclass
class ValidationReport:
    """What `chaosgate validate` found: the valid scenarios and every error."""

    scenarios: list[LoadedScenario] = field(default_factory=list)
    errors: list[ScenarioError] = field(default_factory=list)
    files: int = 0

    def lines(self) -> list[str]:
        if self.errors:
            out = [error.render() for error in self.errors]
            out.append(f"\n{len(self.errors)} error(s) in {self.files} file(s)")
            return out
        return [f"{item.source.file}: ok ({item.scenario.id})" for item in self.scenarios] + [
            f"{len(self.scenarios)} scenario(s) in {self.files} file(s) valid"
        ]


def validate_paths(paths: Sequence[Path]) -> ValidationReport:
    """Load every scenario under `paths`, collecting rather than raising errors."""
    report = ValidationReport()
    files = discover(paths)
    report.files = len(files)
    names = NameResolver()
    for path in files:
        _load_one(path, report.scenarios, report.errors, names)
    report.errors.extend(_duplicate_ids(report.scenarios))
    if not files:
        raise UsageError("no scenario files (*.yaml, *.yml) under " + ", ".join(str(p) for p in paths))
    return report


def load_paths(paths: Sequence[Path]) -> list[LoadedScenario]:
    """Every scenario under `paths`; raises ScenarioErrors naming every problem."""
    report = validate_paths(paths)
    if report.errors:
        raise ScenarioErrors(f"{len(report.errors)} invalid scenario(s)", errors=report.errors)
    return report.scenarios
