"""Discovery of plugins through entry points: built-ins and third parties alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from chaosgate.engine.events import EventHandler
from chaosgate.exceptions import InfrastructureError
from chaosgate.injector import Injector, InjectorParams

INJECTOR_GROUP = "chaosgate.injectors"


class InjectorRegistry(Mapping[str, type[Injector[InjectorParams]]]):
    """Installed injectors by name, each imported only when first asked for.

    Backends are heavy to import (the docker SDK alone takes a third of a
    second); a run that only uses Toxiproxy should not pay for them.
    """

    def __init__(self) -> None:
        self._entries = {entry.name: entry for entry in entry_points(group=INJECTOR_GROUP)}
        self._loaded: dict[str, type[Injector[InjectorParams]]] = {}

    def __getitem__(self, name: str) -> type[Injector[InjectorParams]]:
        if name not in self._loaded:
            entry = self._entries[name]
            try:
                cls = entry.load()
            except Exception as error:  # noqa: BLE001 - a broken plugin must be named, not crash the CLI
                raise InfrastructureError(
                    f"injector plugin `{entry.name}` ({entry.value}) failed to load: {error}"
                ) from None
            if not (isinstance(cls, type) and issubclass(cls, Injector)):
                raise InfrastructureError(
                    f"injector plugin `{entry.name}` ({entry.value}) is not an Injector"
                )
            self._loaded[name] = cls
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


@cache
def injector_types() -> InjectorRegistry:
    """Every installed injector class by the name scenarios use for it (loaded lazily)."""
    return InjectorRegistry()


REPORTER_GROUP = "chaosgate.reporters"


def reporter_factories() -> tuple[dict[str, Callable[[Path], EventHandler]], list[str]]:
    """Every installed report writer (a callable taking the output folder, returning a handler),
    and one line for each that failed to load: a broken plugin is named, never stops a run."""
    found: dict[str, Callable[[Path], EventHandler]] = {}
    problems: list[str] = []
    for entry in entry_points(group=REPORTER_GROUP):
        try:
            found[entry.name] = entry.load()
        except Exception as error:  # noqa: BLE001 - a broken plugin must be named, not crash the run
            problems.append(f"report plugin `{entry.name}` ({entry.value}) failed to load: {error}")
    return dict(sorted(found.items())), problems
