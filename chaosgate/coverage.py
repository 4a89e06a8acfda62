"""Which API operations each fault class exercises: the endpoint × fault-class matrix.

A scenario's *footprint* is what it touches while its faults are on: the
requests of its probes, load mix, request expectations and streams, and the
class of each fault (`network: latency`, `postgres: down`, `container:
pause`, ...). Footprints are recorded in the journal when a scenario starts,
so a report re-rendered later needs no scenario file. The matrix crosses the
operations of an OpenAPI 3 document (or, without one, the paths the
scenarios name) with the fault classes, and each cell lists the scenarios
and expectations that cover it with their results. `chaosgate coverage` and
report.html both read this one model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from chaosgate.exceptions import InfrastructureError, UsageError
from chaosgate.plugins import injector_types
from chaosgate.results import RunResult
from chaosgate.scenario.model import MetricExpectation, RequestExpectation, Scenario

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_REFERENCE = re.compile(r"\$\{[^}]*\}")
_TEMPLATE_PARAM = re.compile(r"\{[^}/]+\}")
CellResult = Literal["passed", "failed", "not run"]


def fault_class(injector: str, params: Mapping[str, Any]) -> str:
    """The class of one fault, from its injector and parameters as written.

    Each injector names its own classes; a fault of an injector that is not
    installed (a footprint stored by another installation) keeps its name.
    """
    injectors = injector_types()
    return injectors[injector].fault_class(params) if injector in injectors else injector


def _path_of(path: str) -> str:
    """A request path with `${...}` references as `{...}` and without its query string."""
    return _REFERENCE.sub("{}", path.split("?", 1)[0]) or "/"


@dataclass(frozen=True)
class Touch:
    """One expectation (or the scenario itself, `expectation=None`) over requests and faults."""

    expectation: str | None
    requests: tuple[tuple[str, str], ...]
    faults: tuple[str, ...]


@dataclass(frozen=True)
class Footprint:
    """What one scenario touches while its faults are on."""

    scenario: str
    requests: tuple[tuple[str, str], ...]
    faults: dict[str, str]
    touches: tuple[Touch, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Footprint:
        return cls(
            scenario=data["scenario"],
            requests=tuple((m, p) for m, p in data["requests"]),
            faults=dict(data["faults"]),
            touches=tuple(
                Touch(t["expectation"], tuple((m, p) for m, p in t["requests"]), tuple(t["faults"]))
                for t in data.get("touches", [])
            ),
        )


def footprint(scenario: Scenario) -> Footprint:
    by_name: dict[str, tuple[str, str]] = {}
    requests: list[tuple[str, str]] = []
    for index, probe in enumerate(scenario.probes):
        request = (probe.request.method, _path_of(probe.request.path))
        by_name[probe.name or f"probes[{index}]"] = request
        requests.append(request)
    load: list[tuple[str, str]] = (
        [(r.method, _path_of(r.path)) for r in scenario.load.mix] if scenario.load else []
    )
    streams = {s.name: ("GET", _path_of(s.path)) for s in scenario.streams}
    by_name.update(streams)
    requests += load + list(streams.values())
    faults = {
        fault.name or f"faults[{index}]": fault_class(fault.injector, fault.params)
        for index, fault in enumerate(scenario.faults)
    }
    every_fault = tuple(dict.fromkeys(faults.values()))
    touches = []
    for window in ("during", "after"):  # `before` is judged before any fault: it covers none
        for index, exp in enumerate(getattr(scenario.expect, window)):
            if isinstance(exp, RequestExpectation):
                touched: list[tuple[str, str]] = [(exp.request.method, _path_of(exp.request.path))]
                requests += touched
            elif isinstance(exp, MetricExpectation) and exp.of == "load":
                touched = load
            elif isinstance(exp, MetricExpectation) and exp.of in by_name:
                touched = [by_name[exp.of]]
            else:
                continue  # judged over everything: the scenario-level touch covers it
            classes = (faults[exp.fault],) if exp.fault in faults else every_fault
            touches.append(Touch(f"{window}[{index}]", tuple(touched), classes))
    unique = tuple(dict.fromkeys(requests))
    touches.insert(0, Touch(None, unique, every_fault))
    return Footprint(scenario.id, unique, faults, tuple(touches))


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    in_openapi: bool = True

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def matches(self, method: str, path: str) -> bool:
        if method.upper() != self.method:
            return False
        pattern = "^" + _TEMPLATE_PARAM.sub(
            "[^/]+", re.escape(self.path).replace(r"\{", "{").replace(r"\}", "}")
        )
        return re.match(pattern + "$", path) is not None


def openapi_operations(document: Mapping[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI 3 document, in the document's order."""
    paths = document.get("paths")
    if not isinstance(paths, Mapping):
        return []
    return [
        Operation(method.upper(), str(path))
        for path, item in paths.items()
        if isinstance(item, Mapping)
        for method in item
        if method in HTTP_METHODS
    ]


@dataclass(frozen=True)
class Cover:
    scenario: str
    expectation: str | None
    result: CellResult


@dataclass
class Matrix:
    operations: list[Operation]
    fault_classes: list[str]
    cells: dict[tuple[str, str], list[Cover]] = field(default_factory=dict)

    def cell(self, operation: Operation, fault_class_: str) -> list[Cover]:
        return self.cells.get((operation.label, fault_class_), [])

    def result(self, operation: Operation, fault_class_: str) -> CellResult | None:
        covers = self.cell(operation, fault_class_)
        if not covers:
            return None
        results = {c.result for c in covers}
        return "failed" if "failed" in results else "passed" if "passed" in results else "not run"

    def uncovered(self) -> list[Operation]:
        return [op for op in self.operations if not any(self.cell(op, f) for f in self.fault_classes)]

    def empty_cells(self) -> list[tuple[Operation, str]]:
        return [(op, f) for op in self.operations for f in self.fault_classes if not self.cell(op, f)]

    def as_json(self) -> dict[str, Any]:
        return {
            "fault_classes": self.fault_classes,
            "operations": [
                {
                    "method": op.method,
                    "path": op.path,
                    "in_openapi": op.in_openapi,
                    "cells": {
                        f: [c.__dict__ for c in self.cell(op, f)]
                        for f in self.fault_classes
                        if self.cell(op, f)
                    },
                }
                for op in self.operations
            ],
            "uncovered": [op.label for op in self.uncovered()],
        }


def _results(run: RunResult | None) -> dict[str, dict[str | None, CellResult]]:
    """Per scenario: its own result (key None) and each expectation's."""
    out: dict[str, dict[str | None, CellResult]] = {}
    for scenario in run.scenarios if run else ():
        passed: dict[str | None, CellResult] = {None: "passed" if scenario.status == "passed" else "failed"}
        for e in scenario.expectations:
            if e.applicable:
                passed[e.id] = "passed" if e.passed else "failed"
        out[scenario.id] = passed
    return out


def build_matrix(
    footprints: Sequence[Footprint], openapi: Mapping[str, Any] | None = None, run: RunResult | None = None
) -> Matrix:
    operations = openapi_operations(openapi) if openapi else []
    documented = bool(operations)
    classes = list(dict.fromkeys(c for fp in footprints for c in fp.faults.values()))
    matrix = Matrix(operations, classes)
    results = _results(run)

    def operation_for(method: str, path: str) -> Operation:
        for op in matrix.operations:
            if op.matches(method, path):
                return op
        extra = Operation(method.upper(), path, in_openapi=not documented)
        matrix.operations.append(extra)
        return extra

    for fp in footprints:
        outcome = results.get(fp.scenario, {})
        for touch in fp.touches:
            result = outcome.get(touch.expectation, "not run" if not outcome else None)
            if result is None:
                continue  # an expectation that was not applicable: it covers nothing
            for method, path in touch.requests:
                op = operation_for(method, path)
                for cls in touch.faults:
                    covers = matrix.cells.setdefault((op.label, cls), [])
                    cover = Cover(fp.scenario, touch.expectation, result)
                    if cover not in covers:
                        covers.append(cover)
    return matrix


def footprints_of(scenarios: Iterable[Scenario]) -> list[Footprint]:
    return [footprint(s) for s in scenarios]


def load_openapi(source: str, timeout: float = 10.0) -> dict[str, Any]:
    """An OpenAPI document from a URL or a file (JSON or YAML)."""
    if source.startswith(("http://", "https://")):
        import httpx  # noqa: PLC0415 - only when a URL is given

        try:
            response = httpx.get(source, timeout=timeout)
            response.raise_for_status()
            text = response.text
        except httpx.HTTPError as error:
            raise InfrastructureError(f"cannot fetch the OpenAPI document {source}: {error}") from None
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(
                f"cannot read the OpenAPI document {source}: {error.strerror or error}"
            ) from None
    try:
        document = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as error:
        raise UsageError(f"{source}: not a JSON or YAML document: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        raise UsageError(f"{source}: not an OpenAPI document (no `paths` object)")
    return document
