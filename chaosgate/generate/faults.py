"""The faults a generated scenario injects: every installed injector's starter faults.

Each injector proposes its own (:meth:`chaosgate.injector.Injector.starter_faults`)
and says what each may break: a fault that cuts the API's path leaves
nothing able to answer, so what is judged is that the outage is seen at
once and the service answers as documented again soon after; a dependency
fault may be answered with the degraded answer the document declares; any
other fault must leave the answer as documented. Faults are named and
selected by the class `chaosgate coverage` files them under.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaosgate.coverage import fault_class
from chaosgate.exceptions import UsageError
from chaosgate.injector import StarterFault
from chaosgate.plugins import injector_types
from chaosgate.suggest import closest


def catalogue(dependencies: Sequence[str]) -> list[StarterFault]:
    """Every starter fault that applies to a target with these dependency proxies."""
    injectors = injector_types()
    return [fault for name in injectors for fault in injectors[name].starter_faults(dependencies)]


def class_of(fault: StarterFault) -> str:
    """The class `chaosgate coverage` files it under, e.g. `network: latency`."""
    return fault_class(fault.injector, fault.params)


def _names(fault: StarterFault) -> set[str]:
    kind = class_of(fault).split(":", 1)[-1].strip()
    return {
        fault.layer,
        kind,
        fault.kind,
        f"{fault.layer}:{kind}",
        f"{fault.layer}:{fault.kind}",
        f"{fault.where}:{fault.kind}",
    }


def select(faults: list[StarterFault], wanted: str | None) -> list[StarterFault]:
    """The faults `--faults` names: a kind (`latency`), a layer (`postgres`) or both (`redis:down`)."""
    if not wanted:
        return faults
    chosen: list[StarterFault] = []
    known = sorted({name for fault in faults for name in _names(fault)})
    for raw in wanted.split(","):
        token = raw.strip().lower().replace(" ", "")
        if not token:
            continue
        matching = [f for f in faults if token in _names(f)]
        if not matching:
            hint = closest(token, known)
            raise UsageError(
                f"--faults: no fault class `{token}` applies to this target"
                + (f"; did you mean `{hint}`?" if hint else "")
                + f" (known: {', '.join(known)})"
            )
        chosen += [f for f in matching if f not in chosen]
    return [f for f in faults if f in chosen]
