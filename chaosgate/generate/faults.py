"""The faults a generated scenario injects, and what each kind may break.

Faults on the API's own network path (the Toxiproxy proxy `api` every
target has) apply to every operation. Some of them leave the answer intact
and only slow it (latency, bandwidth, slicer): the operation must still
answer as documented. The others cut the path (timeout, reset_peer, down):
nothing can answer, so what is judged is that the outage is seen at once
and the service answers as documented again soon after. Dependency faults
apply only where the target publishes a proxy in front of the dependency;
during them the operation must answer as documented or with the degraded
answer the document declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chaosgate.coverage import fault_class
from chaosgate.exceptions import UsageError
from chaosgate.suggest import closest

API_PROXY = "api"


@dataclass(frozen=True)
class FaultKind:
    """One fault class: where it is injected, with what, and whether it cuts the path."""

    proxy: str
    kind: str
    toxic: dict[str, Any] | None
    cuts_path: bool
    words: str

    @property
    def params(self) -> dict[str, Any]:
        """The toxiproxy fault parameters as a scenario writes them."""
        if self.toxic is None:
            return {"proxy": self.proxy, "down": True}
        return {"proxy": self.proxy, "toxic": self.toxic}

    @property
    def fault_class(self) -> str:
        """The class `chaosgate coverage` files it under, e.g. `network: latency`."""
        return fault_class("toxiproxy", self.params)

    @property
    def layer(self) -> str:
        return self.fault_class.split(":", 1)[0]

    @property
    def slug(self) -> str:
        return f"{self.layer}-{self.kind.replace('_', '-')}"

    @property
    def dependency(self) -> bool:
        return self.proxy != API_PROXY


def _toxic(kind: str, **attributes: int) -> dict[str, Any]:
    return {"type": kind, "attributes": attributes}


def api_faults() -> list[FaultKind]:
    return [
        FaultKind(API_PROXY, "latency", _toxic("latency", latency=300), False, "300 ms of network latency"),
        FaultKind(API_PROXY, "timeout", _toxic("timeout", timeout=0), True, "a network path that stops"),
        FaultKind(API_PROXY, "reset_peer", _toxic("reset_peer", timeout=0), True, "connections reset"),
        FaultKind(API_PROXY, "bandwidth", _toxic("bandwidth", rate=32), False, "bandwidth of 32 KB/s"),
        FaultKind(
            API_PROXY,
            "slicer",
            _toxic("slicer", average_size=64, size_variation=32, delay=1000),
            False,
            "responses cut into ~64-byte slices 1 ms apart",
        ),
        FaultKind(API_PROXY, "down", None, True, "the API unreachable"),
    ]


def dependency_faults(proxy: str) -> list[FaultKind]:
    return [
        FaultKind(proxy, "latency", _toxic("latency", latency=300), False, f"{proxy} 300 ms slower"),
        FaultKind(proxy, "timeout", _toxic("timeout", timeout=0), False, f"{proxy} not answering"),
        FaultKind(proxy, "down", None, False, f"{proxy} down"),
    ]


def catalogue(dependencies: Sequence[str]) -> list[FaultKind]:
    """Every fault class that applies to a target with these dependency proxies."""
    return [*api_faults(), *(f for proxy in dependencies for f in dependency_faults(proxy))]


def _names(fault: FaultKind) -> set[str]:
    kind = fault.fault_class.split(":", 1)[1].strip()
    return {
        fault.layer,
        kind,
        fault.kind,
        f"{fault.layer}:{kind}",
        f"{fault.layer}:{fault.kind}",
        f"{fault.proxy}:{fault.kind}",
    }


def select(faults: list[FaultKind], wanted: str | None) -> list[FaultKind]:
    """The faults `--faults` names: a kind (`latency`), a layer (`postgres`) or both (`redis:down`)."""
    if not wanted:
        return faults
    chosen: list[FaultKind] = []
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
