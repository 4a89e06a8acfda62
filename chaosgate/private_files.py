"""Files only their owner may read, written whole: undo records, process and target records.

These files hold what it takes to undo a fault or restart a server — chaos
tokens, database URLs, a process's whole environment — so no other user may
ever read one, not even for a moment. The file is created under a temporary
name with ``O_CREAT | O_EXCL`` and mode 0600 (then set to exactly 0600 on the
open descriptor, whatever the umask), written, flushed to disk, and only then
renamed over its final name: a reader sees the old file or the whole new one,
and never a file with wider permissions.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

MODE = 0o600


def write_private(path: Path, text: str) -> Path:
    """Atomically replace `path` with `text`, readable and writable by its owner only (OSError if not)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    try:
        # The umask can only have removed bits from MODE; this puts back exactly the owner's.
        os.fchmod(fd, MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1  # the file object owns it now
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if fd != -1:
            os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path
