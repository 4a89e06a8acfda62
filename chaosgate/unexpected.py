"""What chaosgate does with an exception it did not expect: a bug of its own or of a plugin.

A person running a suite must get a one-line reason and a finished run, not
a traceback in the middle of the console; whoever reports the bug needs the
traceback. So the traceback goes to a file (or to stderr with ``--debug``)
and the reason names that file.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

from chaosgate.exceptions import ChaosgateError


def leaf(error: BaseException) -> BaseException:
    """The first real exception inside nested exception groups (the one that ended a task group)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def save_traceback(error: BaseException) -> str:
    """Write `error`'s traceback to a temporary file and return its path."""
    handle, path = tempfile.mkstemp(prefix="chaosgate-traceback-", suffix=".txt")
    with os.fdopen(handle, "w") as out:
        traceback.print_exception(error, file=out)
    return path


def describe(error: BaseException) -> str:
    """One line: the exception's type and message."""
    inner = leaf(error)
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def as_chaosgate_error(error: BaseException, *, debug: bool = False, context: str = "") -> ChaosgateError:
    """`error` as the project's own exception: kept when it already is one, else an internal error."""
    inner = leaf(error)
    if isinstance(inner, ChaosgateError):
        return inner
    if debug:
        traceback.print_exception(error, file=sys.stderr)
        where = "traceback above"
    else:
        where = f"traceback in {save_traceback(error)}"
    prefix = f"{context}: " if context else ""
    return ChaosgateError(f"{prefix}internal error: {describe(error)} ({where})")
