"""The process exit codes of R2.5, defined here and nowhere else.

A CI pipeline branches on these numbers, so they are part of the public
contract: every command maps its outcome through :class:`ExitCode`, and every
exception of :mod:`chaosgate.exceptions` carries the code it ends a run with.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """Why a chaosgate command ended."""

    GO = 0
    """Every gate passed."""
    NO_GO = 1
    """An SLA gate failed: the release should not ship."""
    INVALID_INPUT = 2
    """A scenario, profile, target or command line was wrong; nothing ran."""
    INFRASTRUCTURE = 3
    """An injector, the target or a required component was unavailable."""
    ABORTED = 4
    """Steady state did not hold before faults, so nothing was injected."""
