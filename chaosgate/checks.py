"""Expectations computed by Python functions (R1.3): the registry and the built-ins.

A scenario names a check as ``module:function`` or by a registered short
name. Loading a scenario resolves the name (an unknown check is an input
error, not a failure in the middle of a run); running it hands the function a
:class:`CheckContext` and the scenario's ``args``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from chaosgate.scenario.quantities import parse_duration


@dataclass(frozen=True)
class CheckResult:
    """Whether the check passed, what it measured, and a sentence for the report."""

    passed: bool
    measured: object = None
    detail: str = ""


@dataclass(frozen=True)
class CheckContext:
    """What a check may use: an HTTP client bound to the target, the run's samples by source
    (probe name, ``expect.during[0]``, ``load``...), and the resources the target published
    (e.g. ``postgres_dsn``, to verify against the store itself what the API claimed)."""

    client: httpx.Client
    samples: Mapping[str, Any] = field(default_factory=dict)
    resources: Mapping[str, str] = field(default_factory=dict)


CheckFunction = Callable[..., CheckResult]
_REGISTRY: dict[str, CheckFunction] = {}


def register(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Make a function usable as ``check: NAME`` in scenarios."""

    def decorate(func: CheckFunction) -> CheckFunction:
        _REGISTRY[name] = func
        return func

    return decorate


class UnknownCheck(LookupError):
    """The name is neither registered nor an importable ``module:function``."""


def resolve(name: str) -> CheckFunction:
    """The function behind a check name; raises :class:`UnknownCheck` with the reason."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    module_name, _, attr = name.partition(":")
    if not attr:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownCheck(f"no registered check `{name}` (registered: {known}); or write `module:function`")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownCheck(f"cannot import `{module_name}`: {error}") from None
    func = getattr(module, attr, None)
    if not callable(func):
        raise UnknownCheck(f"`{module_name}` has no function `{attr}`")
    return func  # type: ignore[no-any-return]


@register("queue_drained")
def queue_drained(ctx: CheckContext, path: str = "/api/v1/system/queue", within: str = "10s") -> CheckResult:
    """The target's durable write queue empties within `within` (nothing left unsynced)."""
    deadline = time.monotonic() + parse_duration(within)
    depth: object = None
    while time.monotonic() < deadline:
        try:
            response = ctx.client.get(path, timeout=2.0)
            depth = response.json().get("depth") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            depth = None
        if depth == 0:
            return CheckResult(True, 0, f"queue at {path} empty")
        time.sleep(0.2)
    return CheckResult(False, depth, f"queue at {path} still holds {depth} item(s) after {within}")
