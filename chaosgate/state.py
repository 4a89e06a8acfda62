"""Where chaosgate keeps what it must find again after a SIGKILL: undo records, target records.

Order: an explicit folder, then ``$CHAOSGATE_STATE_DIR``, then
``$XDG_STATE_HOME/chaosgate`` (``~/.local/state/chaosgate``).
"""

from __future__ import annotations

import os
from pathlib import Path


def default_state_dir(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("CHAOSGATE_STATE_DIR"):
        return Path(os.environ["CHAOSGATE_STATE_DIR"])
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "chaosgate"
