"""Signals as injector parameters: `SIGTERM`, `term` or `15`, validated and shown one way."""

from __future__ import annotations

import signal as signals
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema


def normalise_signal(value: object) -> str:
    """``SIGTERM`` from ``SIGTERM``, ``term`` or ``15``: a name the kernel and a reader both know."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return signals.Signals(value).name
        except ValueError:
            raise ValueError(f"unknown signal number {value}") from None
    if isinstance(value, str):
        name = value.strip().upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name in signals.Signals.__members__:
            return name
    raise ValueError(f"expected a signal such as `SIGKILL` or `SIGTERM`, got {value!r}")


Signal = Annotated[
    str,
    BeforeValidator(normalise_signal),
    WithJsonSchema({
        "anyOf": [
            {"type": "string", "pattern": r"^([Ss][Ii][Gg])?[A-Za-z0-9]+$"},
            {"type": "integer", "minimum": 1},
        ],
        "description": "A signal name or number, e.g. SIGKILL, SIGTERM, 15.",
    }),
]
"""A signal parameter: normalised to its name (``SIGKILL``)."""
