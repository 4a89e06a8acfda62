"""The extension point for fault injectors (R3.6).

An injector is a small class: it declares the parameters it takes as a frozen
pydantic model (so scenario validation and the published JSON Schema know
them before anything runs), and implements `inject` and `revert`. Injectors
are found through the ``chaosgate.injectors`` entry-point group, the same way
for the built-in ones as for a third party's, and the engine never imports a
concrete injector.

Each injector also owns its vocabulary: the class `chaosgate coverage` files
one of its faults under (`fault_class`), and the faults it proposes for a
starter scenario (`starter_faults`), so neither the coverage matrix nor the
generator needs to know any backend's parameters.

Using an injector as a context manager is the revert guarantee in miniature:
what was injected is reverted on the way out, whatever happened inside.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict

from chaosgate.state import default_state_dir


class InjectorParams(BaseModel):
    """Base of every injector's parameter model: frozen and closed to unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


@dataclass(frozen=True)
class InjectionContext:
    """Where things are: the run that injects, and addresses of what it may touch.

    `state_dir` is the root under which injectors keep their undo records
    (each in its own sub-directory), so that ``chaosgate cleanup`` given the
    same root finds them after a SIGKILL; by default the standard place
    (:func:`chaosgate.state.default_state_dir`). `resources` maps the names a
    scenario uses (proxy names, container names, the API's base URL) to what
    the target resolved them to, and names the servers that faults go
    through (e.g. ``toxiproxy``: the Toxiproxy API of this target): the
    engine passes them on without knowing any backend.
    """

    run_id: str
    _: KW_ONLY
    state_dir: Path = field(default_factory=default_state_dir)
    resources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StarterFault:
    """One fault an injector proposes for a generated scenario, and what it may break.

    `params` are written into the scenario as they stand; `where` is the
    resource the fault breaks as a scenario names it (a proxy, a container),
    `layer` the part of the system it breaks (`network` for the API's own
    path, else the dependency), `kind` what happens to it. A fault that
    `cuts_path` leaves nothing able to answer, so the generator judges that
    the outage is seen; a `dependency` fault may be answered with the
    degraded answer the document declares. `words` finish "under ..." in
    titles and descriptions.
    """

    injector: str
    params: dict[str, Any]
    where: str
    layer: str
    kind: str
    words: str
    cuts_path: bool = False
    dependency: bool = False

    @property
    def slug(self) -> str:
        """The name of the fault in a scenario and in file names, e.g. `postgres-down`."""
        return f"{self.layer}-{self.kind.replace('_', '-')}"


P = TypeVar("P", bound=InjectorParams)


class Injector(ABC, Generic[P]):
    """One fault of one kind. Subclasses set `name` and `Params` and implement two methods."""

    name: ClassVar[str]
    Params: ClassVar[type[InjectorParams]]
    summary: ClassVar[str] = ""

    def __init__(self, params: P, context: InjectionContext) -> None:
        self.params = params
        self.context = context

    @abstractmethod
    def inject(self) -> None:
        """Apply the fault. Raise :class:`~chaosgate.exceptions.InjectorError` when it cannot."""

    @abstractmethod
    def revert(self) -> None:
        """Undo what `inject` did; safe to call when the fault is already gone."""

    @classmethod
    def cleanup(cls, context: InjectionContext) -> list[str]:
        """Undo whatever runs of chaosgate left behind (after a SIGKILL); one line per undo.

        Called by ``chaosgate cleanup`` for every installed injector, once with
        the resources given on the command line (none: each injector's
        default servers) and once with the resources of each target that left
        a record (:func:`chaosgate.target.published_resources`); it finds its
        own leftovers by name prefix, label or the undo records under
        ``context.state_dir``. The default has nothing to find.
        """
        return []

    @classmethod
    def fault_class(cls, params: Mapping[str, Any]) -> str:
        """The class `chaosgate coverage` files a fault under, from its parameters as written.

        Parameters are taken as the scenario wrote them, not validated: a
        stored footprint or a half-written scenario still gets a class.
        The default files every fault of this injector under its name.
        """
        return cls.name

    @classmethod
    def starter_faults(cls, dependencies: Sequence[str]) -> list[StarterFault]:
        """The faults `chaosgate generate` may write for a target publishing these dependencies.

        `dependencies` are the names of the dependency proxies the target
        publishes (:attr:`chaosgate.target.Target.dependency_proxies`). The
        default proposes none: an injector is not obliged to have starters.
        """
        return []

    def describe(self) -> str:
        """One line for the plan and the report: what is broken, where."""
        fields = ", ".join(f"{key}={value!r}" for key, value in self.params.model_dump(by_alias=True).items())
        return f"{self.name}({fields})"

    def __enter__(self) -> Self:
        self.inject()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.revert()
