"""Undo records: what an injector changed, on disk before it changes it, for `chaosgate cleanup`.

Every injector that changes something outside chaosgate keeps such records;
the file handling is the same for all of them, so it lives here once: one
JSON file per change, written atomically, named so that names sort oldest
first, read back newest first (undo in reverse order). A record may hold a
secret (the app injector's chaos token), so it is written with
:func:`~chaosgate.private_files.write_private`: 0600 from the moment it exists.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from chaosgate.exceptions import InjectorError
from chaosgate.private_files import write_private

R = TypeVar("R")


def write_record(directory: Path, owner: str, run_id: str, label: str, text: str) -> Path:
    """Write `text` as a new record of `owner` (an injector name); InjectorError if it cannot."""
    safe_run = re.sub(r"[^A-Za-z0-9.-]+", "-", run_id) or "run"
    safe_label = re.sub(r"[^A-Za-z0-9._-]+", "-", label) or "change"
    path = directory / f"{time.time_ns()}-{safe_run}-{safe_label}.json"
    try:
        write_private(path, text)
    except OSError as error:
        raise InjectorError(f"{owner}: cannot write the undo record {path}: {error}") from error
    return path


def read_records(
    directory: Path,
    owner: str,
    parse: Callable[[str], R],
    run_of: Callable[[R], str],
    run_id: str | None = None,
) -> list[tuple[Path, R]]:
    """Every record left behind (of one run, if given), newest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json"), reverse=True):
        try:
            record = parse(path.read_text())
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InjectorError(f"{owner}: unreadable undo record {path}: {error}") from error
        if run_id is None or run_of(record) == run_id:
            found.append((path, record))
    return found
