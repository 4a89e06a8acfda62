"""A durable local write queue for operations accepted while PostgreSQL is unreachable.

Why SQLite: a ``202 Accepted`` is a promise. The operation must survive a
crash or restart of the service between acceptance and the database's
return, so it is committed (``synchronous=FULL``, WAL) to a file in the data
directory before the 202 is sent. The sync worker replays entries in
acceptance order and deletes each only after PostgreSQL committed it; replay
is idempotent (keys are the resource ids), so a crash between commit and
delete replays harmlessly.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    payload     TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS pending_key ON pending (key);
"""


@dataclass(frozen=True)
class QueuedOperation:
    """One accepted operation waiting for the database."""

    seq: int
    kind: str
    key: str
    payload: dict[str, Any]
    enqueued_at: float
    attempts: int


def _operation(row: tuple[Any, ...]) -> QueuedOperation:
    return QueuedOperation(
        seq=row[0], kind=row[1], key=row[2], payload=json.loads(row[3]), enqueued_at=row[4], attempts=row[5]
    )


class OfflineQueue:
    """File-backed FIFO of pending operations; all methods are safe to call from the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.synced_total = 0
        self.enqueued_total = 0

    def open(self) -> None:
        """Open (creating if needed) the queue file; entries left by a previous run stay queued."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=5.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("offline queue is not open")
        return self._db

    def _enqueue(self, kind: str, key: str, payload: dict[str, Any]) -> int:
        with self._lock:
            db = self._conn()
            db.execute(
                "INSERT INTO pending (kind, key, payload, enqueued_at) VALUES (?, ?, ?, ?)",
                (kind, key, json.dumps(payload, separators=(",", ":")), time.time()),
            )
            (depth,) = db.execute("SELECT count(*) FROM pending").fetchone()
        self.enqueued_total += 1
        return int(depth)

    async def enqueue(self, kind: str, key: str, payload: dict[str, Any]) -> int:
        """Durably append an operation; returns the queue depth including it."""
        return await asyncio.to_thread(self._enqueue, kind, key, payload)

    def _peek(self, limit: int) -> list[QueuedOperation]:
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    "SELECT seq, kind, key, payload, enqueued_at, attempts FROM pending ORDER BY seq LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        return [_operation(row) for row in rows]

    async def peek(self, limit: int = 100) -> list[QueuedOperation]:
        """The oldest ``limit`` operations, in acceptance order."""
        return await asyncio.to_thread(self._peek, limit)

    def _ack(self, seqs: list[int]) -> None:
        with self._lock:
            self._conn().executemany("DELETE FROM pending WHERE seq = ?", [(seq,) for seq in seqs])
        self.synced_total += len(seqs)

    async def ack(self, seqs: list[int]) -> None:
        """Forget operations that PostgreSQL has committed."""
        if seqs:
            await asyncio.to_thread(self._ack, seqs)

    def _bump_attempts(self, seqs: list[int]) -> None:
        with self._lock:
            self._conn().executemany(
                "UPDATE pending SET attempts = attempts + 1 WHERE seq = ?", [(seq,) for seq in seqs]
            )

    async def bump_attempts(self, seqs: list[int]) -> None:
        if seqs:
            await asyncio.to_thread(self._bump_attempts, seqs)

    def stats(self) -> tuple[int, float | None]:
        """(depth, age in seconds of the oldest entry or None); cheap enough to call inline."""
        with self._lock:
            depth, oldest = self._conn().execute("SELECT count(*), min(enqueued_at) FROM pending").fetchone()
        age = None if oldest is None else max(0.0, time.time() - float(oldest))
        return int(depth), age

    def count(self, kind: str) -> int:
        """How many operations of ``kind`` are queued."""
        with self._lock:
            (depth,) = self._conn().execute("SELECT count(*) FROM pending WHERE kind = ?", (kind,)).fetchone()
        return int(depth)

    def find(self, kind: str, key: str) -> QueuedOperation | None:
        """The queued operation of ``kind`` for ``key`` (e.g. an agent not yet synced), if any."""
        with self._lock:
            row = (
                self._conn()
                .execute(
                    "SELECT seq, kind, key, payload, enqueued_at, attempts FROM pending"
                    " WHERE kind = ? AND key = ? ORDER BY seq LIMIT 1",
                    (kind, key),
                )
                .fetchone()
            )
        if row is None:
            return None
        return _operation(row)

    def pending(self, kind: str, limit: int) -> list[QueuedOperation]:
        """Queued operations of one kind, oldest first (for merging into degraded listings)."""
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    "SELECT seq, kind, key, payload, enqueued_at, attempts FROM pending"
                    " WHERE kind = ? ORDER BY seq LIMIT ?",
                    (kind, limit),
                )
                .fetchall()
            )
        return [_operation(row) for row in rows]
