"""Discovery of plugins through entry points: built-ins and third parties alike."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from chaosgate.exceptions import InfrastructureError
from chaosgate.injector import Injector, InjectorParams

INJECTOR_GROUP = "chaosgate.injectors"


@cache
def injector_types() -> dict[str, type[Injector[InjectorParams]]]:
    """Every installed injector class by the name scenarios use for it."""
    found: dict[str, type[Injector[InjectorParams]]] = {}
    for entry in entry_points(group=INJECTOR_GROUP):
        try:
            cls = entry.load()
        except Exception as error:  # noqa: BLE001 - a broken plugin must be named, not crash the CLI
            raise InfrastructureError(
                f"injector plugin `{entry.name}` ({entry.value}) failed to load: {error}"
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, Injector)):
            raise InfrastructureError(
                f"injector plugin `{entry.name}` ({entry.value}) is not an Injector subclass"
            )
        found[entry.name] = cls
    return dict(sorted(found.items()))
