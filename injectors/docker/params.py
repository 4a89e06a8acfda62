"""Parameters of the `docker` injector, checked per action before anything runs.

One flat model (so a scenario reads ``action: kill`` / ``signal: SIGTERM``
rather than a nested block), with a validator that knows which fields each
action takes: ``network`` on a ``pause`` is an error, as is a ``limit``
without ``cpus`` or ``memory``. Memory is written the way ``docker update``
takes it (``256m``, ``1g``: binary units) and kept in bytes.

Which containers: exactly one of ``container`` (a name), ``label`` (a group)
or, for ``partition`` only, ``groups``: two or more lists whose entries are
container names or ``label=key=value`` selectors, e.g.
``groups: [[api], [postgres, "label=role=cache"]]``. Containers in different
groups cannot reach each other over the networks they share; inside a group,
and to and from the host, nothing changes.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from chaosgate.injector import InjectorParams
from chaosgate.signals import Signal

Action = Literal["pause", "stop", "kill", "restart", "disconnect", "limit", "partition"]

ACTION_FIELDS: dict[str, frozenset[str]] = {
    "pause": frozenset(),
    "stop": frozenset({"timeout"}),
    "kill": frozenset({"signal"}),
    "restart": frozenset({"timeout"}),
    "disconnect": frozenset({"network"}),
    "limit": frozenset({"cpus", "memory"}),
    "partition": frozenset({"groups", "network"}),
}
"""Which optional fields each action takes; any other is a validation error."""

MIN_MEMORY = 6 * 1024 * 1024
"""The engine refuses memory limits below 6 MiB."""

_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_memory(value: object) -> int:
    """Bytes from ``256m``, ``1g``, ``512k`` or a plain integer (docker's binary units)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as `256m`, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and (match := _MEMORY_RE.match(value)):
        number = int(float(match[1]) * _UNITS[match[2].lower()])
    else:
        raise ValueError(f"expected a size such as `256m` or `1g`, got {value!r}")
    if number < MIN_MEMORY:
        raise ValueError("the Docker engine does not accept memory limits below 6m")
    return number


def format_memory(number: int) -> str:
    for unit, size in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if number % size == 0:
            return f"{number // size}{unit}"
    return f"{number}b"


Memory = Annotated[
    int,
    BeforeValidator(parse_memory),
    WithJsonSchema({
        "anyOf": [
            {"type": "integer", "minimum": MIN_MEMORY},
            {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*[bkmgBKMG]?[bB]?\s*$"},
        ],
        "description": "Memory limit: `256m`, `1g` (binary units) or bytes.",
    }),
]
LABEL_PREFIX = "label="
GroupEntry = Annotated[
    str,
    Field(
        pattern=r"^(label=[^=\s]+(=.*)?|[A-Za-z0-9][A-Za-z0-9_.-]*)$",
        description=(
            "A container name (resolved through the target) or id, or `label=key=value` "
            "(`label=key`) for every container with that label."
        ),
    ),
]
Group = Annotated[tuple[GroupEntry, ...], Field(min_length=1, description="The containers of one side.")]


class DockerParams(InjectorParams):
    """A container fault: which container(s), what to do, and that action's own settings."""

    # Merged with the base config (frozen, extra=forbid); tells editors "container, label or groups".
    # anyOf, not oneOf: which one fits the action is the validator's to say, with a better message
    # than "matches more than one branch".
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["container"]}, {"required": ["label"]}, {"required": ["groups"]}]
        }
    )

    container: str | None = Field(
        default=None,
        min_length=1,
        description="Container name (resolved through the target) or id; for every action but partition.",
    )
    label: str | None = Field(
        default=None,
        pattern=r"^[^=\s]+(=.*)?$",
        description="Every container with this label, `key=value` or `key`: a group fault.",
    )
    groups: tuple[Group, ...] | None = Field(
        default=None,
        min_length=2,
        description=(
            "partition: two or more groups of containers, e.g. [[api], [postgres, redis]]. Containers in "
            "different groups cannot reach each other over the networks they share; each still reaches "
            "its own group and the host (published ports keep working)."
        ),
    )
    action: Action = Field(
        description=(
            "pause, stop, kill, restart, disconnect (from a network), limit (CPU, memory) "
            "or partition (cut `groups` apart)."
        )
    )
    signal: Signal | None = Field(default=None, description="kill: the signal to send (default SIGKILL).")
    timeout: int | None = Field(
        default=None, ge=0, description="stop/restart: seconds between SIGTERM and SIGKILL (default 10)."
    )
    network: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "disconnect: the network to leave (default: every one). "
            "partition: the only network to cut (default: every network the groups share)."
        ),
    )
    cpus: float | None = Field(default=None, gt=0, description="limit: CPUs the container may use, e.g. 0.5.")
    memory: Memory | None = Field(default=None, description="limit: memory, e.g. `256m` (no swap on top).")

    @model_validator(mode="after")
    def _fits_action(self) -> DockerParams:
        allowed = ACTION_FIELDS[self.action]
        optional = {"signal", "timeout", "network", "cpus", "memory", "groups"}
        extra = sorted((self.model_fields_set & optional) - allowed)
        if extra:
            takes = ", ".join(f"`{name}`" for name in sorted(allowed)) or "no other field"
            named = ", ".join(f"`{name}`" for name in extra)
            raise ValueError(f"{named} does not apply to `{self.action}` (it takes {takes})")
        if self.action == "partition":
            if self.container is not None or self.label is not None:
                raise ValueError("`partition` takes `groups`, not `container` or `label`")
            if self.groups is None:
                raise ValueError("`partition` needs `groups`: two or more lists of containers")
            _check_disjoint(self.groups)
        elif (self.container is None) == (self.label is None):
            raise ValueError("give exactly one of `container` (a name) or `label` (`key=value`)")
        if self.action == "limit" and self.cpus is None and self.memory is None:
            raise ValueError("`limit` needs `cpus`, `memory` or both")
        return self

    @property
    def kill_signal(self) -> str:
        return self.signal or "SIGKILL"

    @property
    def grace(self) -> int:
        return 10 if self.timeout is None else self.timeout

    def selector(self) -> str:
        if self.groups is not None:
            return " | ".join(f"[{', '.join(group)}]" for group in self.groups)
        return f"container {self.container}" if self.container else f"containers labelled {self.label}"


def split_entry(entry: str) -> tuple[str | None, str | None]:
    """``(name, None)`` for a container name, ``(None, "key=value")`` for ``label=key=value``."""
    if entry.startswith(LABEL_PREFIX):
        return None, entry[len(LABEL_PREFIX):]
    return entry, None


def _check_disjoint(groups: tuple[tuple[str, ...], ...]) -> None:
    seen: dict[str, int] = {}
    for index, group in enumerate(groups, start=1):
        for entry in dict.fromkeys(group):
            if entry in seen:
                raise ValueError(f"`{entry}` is in group {seen[entry]} and in group {index}")
            seen[entry] = index
