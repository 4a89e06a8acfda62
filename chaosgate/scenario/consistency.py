"""Checks across a scenario that a schema cannot express: names that must exist.

Each check returns located errors, so a reference to a fault, a probe, a
setup step or an environment variable that is not there points at the line
that names it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from chaosgate.checks import UnknownCheck, resolve
from chaosgate.exceptions import ScenarioError
from chaosgate.scenario.diagnostics import located
from chaosgate.scenario.jsonpaths import JsonPathSyntaxError, compile_jsonpath
from chaosgate.scenario.marked_yaml import MarkedDocument, PathKey
from chaosgate.scenario.model import (
    CheckExpectation,
    MetricExpectation,
    RequestExpectation,
    ResponseCheck,
    Scenario,
)
from chaosgate.scenario.templating import TemplateError, check_reference, references
from chaosgate.suggest import closest


def _strings(value: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _template_errors(
    doc: MarkedDocument, data: dict[str, Any], environ: Mapping[str, str]
) -> list[ScenarioError]:
    errors = []
    steps = [s.get("name") for s in data.get("setup", []) if isinstance(s, dict)]
    for path, text in _strings(data, ()):
        # Inside setup, a step can only use the steps before it.
        visible = (
            steps[: path[1]] if len(path) > 1 and path[0] == "setup" and isinstance(path[1], int) else steps
        )
        for reference in references(text):
            try:
                check_reference(reference, [s for s in visible if isinstance(s, str)], environ)
            except TemplateError as error:
                errors.append(located(doc, path, str(error), suggestion=error.suggestion))
    return errors


def _response_checks(scenario: Scenario) -> Iterator[tuple[PathKey, ResponseCheck]]:
    """Every response check of a scenario with the path of its mapping."""
    for section in ("setup", "steady_state", "probes"):
        for index, step in enumerate(getattr(scenario, section)):
            yield (section, index, "expect"), step.expect
    for window in ("before", "during", "after"):
        for index, expectation in enumerate(getattr(scenario.expect, window)):
            if isinstance(expectation, RequestExpectation):
                yield ("expect", window, index), expectation


def _jsonpath_errors(doc: MarkedDocument, scenario: Scenario) -> list[ScenarioError]:
    """Every `json:` key of a response check must be a JSONPath that parses."""
    errors = []
    for path, check in _response_checks(scenario):
        for expression in check.json_body:
            try:
                compile_jsonpath(expression)
            except JsonPathSyntaxError as error:
                errors.append(located(doc, (*path, "json", expression), str(error), key=True))
    return errors


def _duplicates(doc: MarkedDocument, section: str, names: list[str | None]) -> list[ScenarioError]:
    seen: set[str] = set()
    errors = []
    for index, name in enumerate(names):
        if name is None:
            continue
        if name in seen:
            errors.append(located(doc, (section, index, "name"), f"duplicate name `{name}` in {section}"))
        seen.add(name)
    return errors


def _reference_errors(doc: MarkedDocument, scenario: Scenario) -> list[ScenarioError]:
    errors: list[ScenarioError] = []
    faults = [f.name for f in scenario.faults if f.name]
    sources = [p.name for p in (*scenario.steady_state, *scenario.probes) if p.name]
    sources += [s.name for s in scenario.streams] + (["load"] if scenario.load else [])
    for window in ("before", "during", "after"):
        for index, expectation in enumerate(getattr(scenario.expect, window)):
            path: PathKey = ("expect", window, index)
            if expectation.fault is not None and expectation.fault not in faults:
                errors.append(
                    located(
                        doc,
                        (*path, "fault"),
                        f"no fault named `{expectation.fault}`",
                        expected="one of " + (", ".join(faults) or "(no named faults)"),
                        suggestion=closest(expectation.fault, faults),
                    )
                )
            if isinstance(expectation, MetricExpectation):
                errors.extend(_metric_errors(doc, path, window, expectation, sources))
            if isinstance(expectation, CheckExpectation):
                try:
                    resolve(expectation.check)
                except UnknownCheck as error:
                    errors.append(located(doc, (*path, "check"), str(error)))
    for window in ("during", "after"):
        if getattr(scenario.expect, window) and not scenario.faults:
            errors.append(
                located(doc, ("expect", window), f"`{window}` expectations need at least one fault")
            )
    return errors


def _metric_errors(
    doc: MarkedDocument, path: PathKey, window: str, expectation: MetricExpectation, sources: list[str]
) -> list[ScenarioError]:
    errors = []
    metric = expectation.metric.metric
    if metric == "detect" and window != "during":
        errors.append(
            located(doc, (*path, "metric"), "`detect` is measured from a fault's start: put it in `during`")
        )
    if metric == "recover" and window != "after":
        errors.append(
            located(doc, (*path, "metric"), "`recover` is measured from a fault's end: put it in `after`")
        )
    if expectation.of is not None and expectation.of not in sources:
        errors.append(
            located(
                doc,
                (*path, "of"),
                f"`of: {expectation.of}` names no probe, stream or load",
                expected="one of " + (", ".join(sources) or "(nothing named)"),
                suggestion=closest(expectation.of, sources),
            )
        )
    return errors


def consistency_errors(
    doc: MarkedDocument, scenario: Scenario, environ: Mapping[str, str]
) -> list[ScenarioError]:
    """Every cross-reference problem of one scenario; `${env.NAME}` is checked against `environ`."""
    data = doc.data if isinstance(doc.data, dict) else {}
    errors = _template_errors(doc, data, environ) + _jsonpath_errors(doc, scenario)
    errors += _duplicates(doc, "setup", [s.name for s in scenario.setup])
    errors += _duplicates(doc, "faults", [f.name for f in scenario.faults])
    errors += _duplicates(doc, "probes", [p.name for p in scenario.probes])
    errors += _duplicates(doc, "streams", [s.name for s in scenario.streams])
    errors += _reference_errors(doc, scenario)
    return errors
