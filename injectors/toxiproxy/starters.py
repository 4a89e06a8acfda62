"""What Toxiproxy faults are called in the coverage matrix, and the ones a starter scenario injects.

Faults on the API's own network path (the proxy `api` every target has)
apply to every operation. Some leave the answer intact and only slow it
(latency, bandwidth, slicer); the others cut the path (timeout, reset_peer,
down), so nothing can answer. Dependency faults apply only where the target
publishes a proxy in front of the dependency; they never cut the API's path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chaosgate.injector import StarterFault

API_PROXY = "api"
INJECTOR = "toxiproxy"


def fault_class(params: Mapping[str, Any]) -> str:
    """`network: latency` on the API's path, `postgres: down` on a dependency's proxy."""
    proxy = str(params.get("proxy", "?"))
    layer = "network" if proxy == API_PROXY else proxy
    toxic = params.get("toxic") or {}
    kind = "down" if params.get("down") else str(toxic.get("type", "toxic"))
    return f"{layer}: {'reset' if kind == 'reset_peer' else kind}"


def _toxic(kind: str, **attributes: int) -> dict[str, Any]:
    return {"type": kind, "attributes": attributes}


def _starter(
    proxy: str, kind: str, toxic: dict[str, Any] | None, cuts_path: bool, words: str
) -> StarterFault:
    """A toxic on `proxy`, or the proxy down (`toxic=None`)."""
    params: dict[str, Any] = {"proxy": proxy, **({"down": True} if toxic is None else {"toxic": toxic})}
    return StarterFault(
        injector=INJECTOR,
        params=params,
        where=proxy,
        layer=fault_class(params).split(":", 1)[0],
        kind=kind,
        words=words,
        cuts_path=cuts_path,
        dependency=proxy != API_PROXY,
    )


def api_faults() -> list[StarterFault]:
    return [
        _starter(API_PROXY, "latency", _toxic("latency", latency=300), False, "300 ms of network latency"),
        _starter(API_PROXY, "timeout", _toxic("timeout", timeout=0), True, "a network path that stops"),
        _starter(API_PROXY, "reset_peer", _toxic("reset_peer", timeout=0), True, "connections reset"),
        _starter(API_PROXY, "bandwidth", _toxic("bandwidth", rate=32), False, "bandwidth of 32 KB/s"),
        _starter(
            API_PROXY,
            "slicer",
            _toxic("slicer", average_size=64, size_variation=32, delay=1000),
            False,
            "responses cut into ~64-byte slices 1 ms apart",
        ),
        _starter(API_PROXY, "down", None, True, "the API unreachable"),
    ]


def dependency_faults(proxy: str) -> list[StarterFault]:
    return [
        _starter(proxy, "latency", _toxic("latency", latency=300), False, f"{proxy} 300 ms slower"),
        _starter(proxy, "timeout", _toxic("timeout", timeout=0), False, f"{proxy} not answering"),
        _starter(proxy, "down", None, False, f"{proxy} down"),
    ]


def starter_faults(dependencies: Sequence[str]) -> list[StarterFault]:
    """The API path's faults, then each dependency proxy's, in the order the target names them."""
    return [*api_faults(), *(f for proxy in dependencies for f in dependency_faults(proxy))]
