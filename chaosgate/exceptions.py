"""The exception tree of chaosgate.

Backend libraries (PyYAML, jsonschema, docker, toxiproxy-python, httpx) raise
their own exceptions; they are translated into these at the boundary of the
module that calls them, so the CLI can map any failure to one exit code and
one readable message, never a traceback::

    ChaosgateError                      (exit 3 unless a subclass says otherwise)
    ├── UsageError                      exit 2  bad command line, unknown name
    │   └── ScenarioError               exit 2  a YAML file that is not a valid scenario
    │       └── ScenarioErrors          exit 2  every problem found in a set of files
    ├── InfrastructureError             exit 3  something chaosgate drives is unavailable
    │   ├── ComponentMissing            exit 3  not installed (doctor says how to fix it)
    │   ├── InjectorError               exit 3  an injector could not inject or revert
    │   └── TargetError                 exit 3  the system under test could not be reached
    ├── TemplateError                   exit 3  a ``${...}`` with no value when a run renders it
    │                                           (in ``scenario/templating.py``; the scenario is `error`)
    ├── SteadyStateAborted              exit 4  steady state did not hold before faults
    └── GateFailed                      exit 1  an SLA gate failed (the run itself was sound)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chaosgate.exitcodes import ExitCode


class ChaosgateError(Exception):
    """Root of every error chaosgate raises on purpose."""

    exit_code: ExitCode = ExitCode.INFRASTRUCTURE

    def render(self) -> str:
        """The text a person reads; subclasses with locations format them here."""
        return str(self)


class UsageError(ChaosgateError):
    """The user asked for something that cannot be done as asked."""

    exit_code = ExitCode.INVALID_INPUT


@dataclass(frozen=True)
class SourceSpan:
    """Where in a YAML file a value stands: 1-based lines and columns."""

    file: str
    line: int
    column: int
    end_line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(eq=False)
class ScenarioError(UsageError):
    """One problem in one scenario file, with everything needed to fix it."""

    message: str
    span: SourceSpan | None = None
    expected: str | None = None
    suggestion: str | None = None
    excerpt: str = ""
    field_path: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        where = str(self.span) if self.span else "<unknown>"
        lines = [f"{where}: error: {self.message}"]
        if self.span and self.span.end_line and self.span.end_line != self.span.line:
            lines[0] += f" ({self.span.file}: line {self.span.line}-{self.span.end_line})"
        if self.field_path:
            lines.append(f"  field: {self.field_path}")
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.suggestion:
            lines.append(f"  did you mean `{self.suggestion}`?")
        if self.excerpt:
            lines.append(self.excerpt)
        return "\n".join(lines)


@dataclass(eq=False)
class ScenarioErrors(ScenarioError):
    """Every problem found while loading one or more files, reported together."""

    errors: Sequence[ScenarioError] = field(default_factory=tuple)

    def render(self) -> str:
        return "\n\n".join(error.render() for error in self.errors)


class InfrastructureError(ChaosgateError):
    """Something chaosgate needs is not there or not answering."""

    exit_code = ExitCode.INFRASTRUCTURE


class ComponentMissing(InfrastructureError):
    """A required program or service is not installed or not running."""


class InjectorError(InfrastructureError):
    """An injector backend refused or failed an inject or a revert."""


class TargetError(InfrastructureError):
    """The system under test could not be started, located or reached."""


class SteadyStateAborted(ChaosgateError):
    """Steady state did not hold before any fault, so the scenario was not run."""

    exit_code = ExitCode.ABORTED


class GateFailed(ChaosgateError):
    """The run completed but an SLA gate failed: a No-Go."""

    exit_code = ExitCode.NO_GO
