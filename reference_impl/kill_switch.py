"""The kill switch: when engaged, every mutation by a non-admin caller gets 503.

Why local first, PostgreSQL second: engaging must work *especially* during an
incident, when the database may be the thing that is broken. An admin's change
takes effect in this process at once and is written to PostgreSQL (table
``kill_switch``, last writer wins by ``changed_at``) now or, if the database is
away, by the background loop as soon as it returns. Every process re-reads the
row every probe interval, so with several workers the switch is in force
everywhere well within the 5 s bound (R9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class KillSwitch:
    """This process's view of the switch."""

    engaged: bool = False
    reason: str | None = None
    changed_by: str | None = None
    changed_at: datetime | None = None
    dirty: bool = False  # changed here, not yet written to PostgreSQL

    def set(self, engaged: bool, reason: str | None, changed_by: str) -> None:
        self.engaged = engaged
        self.reason = reason
        self.changed_by = changed_by
        self.changed_at = datetime.now(UTC)
        self.dirty = True

    def adopt(self, row: dict[str, Any] | None) -> bool:
        """Take the stored state if it is newer than ours (and ours is written); True if it changed."""
        if row is None or self.dirty:
            return False
        if self.changed_at is not None and row["changed_at"] <= self.changed_at:
            return False
        self.engaged = bool(row["engaged"])
        self.reason = row["reason"]
        self.changed_by = row["changed_by"]
        self.changed_at = row["changed_at"]
        return True


async def persist(connection: Any, switch: KillSwitch) -> None:
    """Write our state unless a newer one is already stored (last writer wins)."""
    await connection.execute(
        "INSERT INTO kill_switch (id, engaged, reason, changed_by, changed_at) VALUES (1, $1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET engaged = EXCLUDED.engaged, reason = EXCLUDED.reason,"
        " changed_by = EXCLUDED.changed_by, changed_at = EXCLUDED.changed_at"
        " WHERE kill_switch.changed_at < EXCLUDED.changed_at",
        switch.engaged,
        switch.reason,
        switch.changed_by,
        switch.changed_at,
    )


async def load(connection: Any) -> dict[str, Any] | None:
    row = await connection.fetchrow(
        "SELECT engaged, reason, changed_by, changed_at FROM kill_switch WHERE id = 1"
    )
    return None if row is None else dict(row)
