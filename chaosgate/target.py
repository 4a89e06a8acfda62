"""The extension point for systems under test, and how target files are found.

A target file (``targets/NAME.yaml``) names a `kind` and that kind's
settings. Kinds are found through the ``chaosgate.targets`` entry-point
group, so the engine never imports a concrete target; a kind brings its
system up (or attaches to it), puts whatever faults need in front of it
(proxies, a frame proxy), and returns a :class:`Deployment` that says where
everything is.

A target that leaves a record of what it started under
``<state_dir>/targets/`` (so that ``cleanup`` can remove it after a SIGKILL)
puts the resources it published in that record under ``"resources"``:
``chaosgate cleanup`` hands them to every injector, which finds its own
servers there the same way it does during a run.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import chaosgate
from chaosgate.exceptions import InfrastructureError, ScenarioErrors, UsageError
from chaosgate.scenario.diagnostics import located, model_errors
from chaosgate.scenario.marked_yaml import load_file
from chaosgate.scenario.model import Duration, Probe
from chaosgate.suggest import closest

TARGET_GROUP = "chaosgate.targets"
DEFAULT_SETTLE_TIMEOUT = 30.0
RECORDS = "targets"
"""The sub-directory of the state directory where targets keep their records."""


class TargetSpec(BaseModel):
    """Base of every kind's settings: frozen and closed to unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: str
    readiness: list[Probe] = Field(
        default_factory=list,
        description=(
            "Requests that must all answer as expected before each scenario starts: the target's "
            "baseline, which the suite waits for so one scenario's fault is never felt by the next."
        ),
    )
    settle_timeout: Duration = Field(
        default=DEFAULT_SETTLE_TIMEOUT,
        gt=0,
        le=900,
        description="How long to wait for `readiness` before a scenario; past it the scenario is an error.",
    )


@dataclass(frozen=True)
class Deployment:
    """Where a running target is: the URL to test through, and the names faults use.

    `resources` is everything injectors look up, the servers they act
    through included (``toxiproxy``, ``wsproxy:<name>``, ``chaos_url``…);
    the engine passes it on as :attr:`chaosgate.injector.InjectionContext.resources`.
    """

    name: str
    base_url: str
    resources: Mapping[str, str] = field(default_factory=dict)
    openapi: str | None = None


def published_resources(state_dir: Path) -> list[dict[str, str]]:
    """The resources each target with a record under ``<state_dir>/targets/`` published (by record name).

    A record that cannot be read, or carries no resources, contributes
    nothing: it is the target's own cleanup that deals with it.
    """
    found = []
    for path in sorted((state_dir / RECORDS).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        resources = data.get("resources") if isinstance(data, dict) else None
        if isinstance(resources, dict):
            found.append({str(key): str(value) for key, value in resources.items()})
    return found


class Target(ABC):
    """One kind of system under test. Subclasses set `kind` and `Spec`, implement `up` and `down`."""

    kind: ClassVar[str]
    Spec: ClassVar[type[TargetSpec]]
    dependency_proxies: ClassVar[tuple[str, ...]] = ()
    """Toxiproxy proxies in front of the target's own dependencies (`postgres`, `redis`, ...)."""

    def __init__(self, spec: TargetSpec, *, run_id: str, state_dir: Path) -> None:
        self.spec = spec
        self.run_id = run_id
        self.state_dir = state_dir

    @abstractmethod
    def up(self) -> Deployment:
        """Start or attach to the system and return where it is."""

    @abstractmethod
    def down(self) -> None:
        """Remove everything `up` created; safe to call more than once."""

    @classmethod
    def cleanup(cls, state_dir: Path) -> list[str]:
        """Remove what a SIGKILLed run of this kind left behind; one line per removal."""
        return []

    def __enter__(self) -> Deployment:
        return self.up()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()


@cache
def target_kinds() -> dict[str, type[Target]]:
    found: dict[str, type[Target]] = {}
    for entry in entry_points(group=TARGET_GROUP):
        try:
            cls = entry.load()
        except Exception as error:  # noqa: BLE001 - a broken plugin is named, not a traceback
            raise InfrastructureError(
                f"target plugin `{entry.name}` ({entry.value}) failed to load: {error}"
            ) from None
        found[entry.name] = cls
    return found


def search_path(cwd: Path | None = None) -> list[Path]:
    """Where target files are looked for: ./targets, then the targets chaosgate ships."""
    bundled = Path(chaosgate.__file__).resolve().parent.parent / "targets"
    return [(cwd or Path.cwd()) / "targets", bundled]


def target_names(cwd: Path | None = None) -> list[str]:
    """Every target a name can stand for, in the order the search path finds them."""
    names = [p.stem for folder in search_path(cwd) if folder.is_dir() for p in sorted(folder.glob("*.yaml"))]
    return list(dict.fromkeys(names))


def find_target_file(name_or_path: str, cwd: Path | None = None) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    for folder in search_path(cwd):
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    known = target_names(cwd)
    hint = closest(name_or_path, known)
    extra = f"; did you mean `{hint}`?" if hint else ""
    raise UsageError(f"no target `{name_or_path}` (known: {', '.join(sorted(known)) or 'none'}){extra}")


def read_target(name_or_path: str, cwd: Path | None = None) -> tuple[type[Target], TargetSpec]:
    """The kind and validated settings of a target file, without starting anything.

    Input errors carry the target file's line and column.
    """
    path = find_target_file(name_or_path, cwd)
    documents = load_file(path)
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise UsageError(f"{path}: a target file is one YAML mapping")
    doc = documents[0]
    data: dict[str, Any] = {"name": path.stem, **doc.data}
    kinds = target_kinds()
    kind = data.get("kind")
    if kind not in kinds:
        raise ScenarioErrors(
            "invalid target",
            errors=[
                located(
                    doc,
                    ("kind",),
                    f"unknown target kind `{kind}`",
                    expected="one of " + ", ".join(kinds),
                    suggestion=closest(str(kind), kinds),
                )
            ],
        )
    cls = kinds[str(kind)]
    try:
        return cls, cls.Spec.model_validate(data)
    except ValidationError as error:
        keys = [k for k in cls.Spec.model_fields if k != "name"]
        raise ScenarioErrors("invalid target", errors=model_errors(error, doc, keys=keys)) from None


def load_target(name_or_path: str, *, run_id: str, state_dir: Path, cwd: Path | None = None) -> Target:
    """The target a name or file describes, validated and ready to `up`."""
    cls, spec = read_target(name_or_path, cwd)
    return cls(spec, run_id=run_id, state_dir=state_dir)
