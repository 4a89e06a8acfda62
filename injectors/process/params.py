"""Parameters of the `process` injector, checked per action before anything runs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from chaosgate.injector import InjectorParams
from chaosgate.signals import Signal

Action = Literal["stop", "kill", "terminate"]

ACTION_FIELDS: dict[str, frozenset[str]] = {
    "stop": frozenset(),
    "kill": frozenset({"signal", "restart_timeout"}),
    "terminate": frozenset({"timeout", "restart_timeout"}),
}
"""Which optional fields each action takes; any other is a validation error."""

PAUSING_SIGNALS = frozenset({"SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCONT"})
"""Signals that pause or resume rather than end a process: `kill` refuses them (use `stop`)."""


class ProcessParams(InjectorParams):
    """A fault on a target's local server process: stop (freeze) it, kill it, or terminate it.

    `stop` sends SIGSTOP to the process group and SIGCONT on revert. `kill`
    sends a signal (default SIGKILL) and `terminate` sends SIGTERM (SIGKILL after
    `timeout`); on revert both start the process again from its record (same
    command, environment and directory) and wait until its port answers.
    """

    process: str = Field(
        min_length=1,
        description=(
            "The process as the target names it; the path of its record is the target's "
            "`process:<name>` resource."
        ),
    )
    action: Action = Field(description="stop (SIGSTOP/SIGCONT), kill (a signal, then restart) or terminate.")
    signal: Signal | None = Field(default=None, description="kill: the signal to send (default SIGKILL).")
    timeout: int | None = Field(
        default=None, ge=0, le=600, description="terminate: seconds between SIGTERM and SIGKILL (default 10)."
    )
    restart_timeout: int | None = Field(
        default=None, ge=1, le=600,
        description="kill/terminate: seconds the revert waits for the restarted process's port (default 30).",
    )

    @model_validator(mode="after")
    def _fits_action(self) -> ProcessParams:
        allowed = ACTION_FIELDS[self.action]
        extra = sorted((self.model_fields_set & {"signal", "timeout", "restart_timeout"}) - allowed)
        if extra:
            takes = ", ".join(f"`{name}`" for name in sorted(allowed)) or "no other field"
            named = ", ".join(f"`{name}`" for name in extra)
            raise ValueError(f"{named} does not apply to `{self.action}` (it takes {takes})")
        if self.signal in PAUSING_SIGNALS:
            raise ValueError(f"`{self.signal}` does not end a process: use `action: stop` to freeze it")
        return self

    @property
    def kill_signal(self) -> str:
        return self.signal or ("SIGTERM" if self.action == "terminate" else "SIGKILL")

    @property
    def grace(self) -> int:
        return 10 if self.timeout is None else self.timeout

    @property
    def startup_timeout(self) -> int:
        return 30 if self.restart_timeout is None else self.restart_timeout
