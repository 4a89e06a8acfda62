"""Write blocking after suspected storage corruption, and the recovery that lifts it.

Why block: once the store may hold corrupt data, every further write risks
building on it. The first write that meets the corruption opens one incident
(500, category ``data_integrity``); every write after it gets the same
incident id until a recovery check has read the store back successfully.
Reads keep working, so the service stays useful while it heals. The
corruption itself comes from the chaos hook ``storage_corruption``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reference_impl.chaos import Fault
from reference_impl.database import Connection
from reference_impl.errors import ApiError, ErrorCategory, RecoveryOption, new_incident_id

if TYPE_CHECKING:
    from reference_impl.runtime import Runtime

log = logging.getLogger("prism.integrity")


@dataclass
class StorageIntegrity:
    """Whether writes are blocked, since when, and under which incident."""

    incident_id: str | None = None
    blocked_since: float | None = None
    recoveries: int = 0

    @property
    def blocked(self) -> bool:
        return self.incident_id is not None

    def block(self) -> str:
        if self.incident_id is None:
            self.incident_id = new_incident_id()
            self.blocked_since = time.monotonic()
            log.error(
                "storage corruption detected (%s): writes blocked, recovery scheduled", self.incident_id
            )
        return self.incident_id

    def unblock(self) -> None:
        log.info("storage integrity verified: writes unblocked (incident %s closed)", self.incident_id)
        self.incident_id = None
        self.blocked_since = None
        self.recoveries += 1


def ensure_writable(runtime: Runtime) -> None:
    """Raise the 500 `data_integrity` envelope when writes are (or must now be) blocked."""
    corruption = runtime.chaos.active(Fault.STORAGE_CORRUPTION)
    integrity = runtime.integrity
    if corruption is None and not integrity.blocked:
        return
    incident_id = integrity.block()
    eta = (corruption.remaining() if corruption else 0.0) + runtime.settings.sync_interval
    raise ApiError(
        500,
        ErrorCategory.DATA_INTEGRITY,
        "storage_corruption_detected",
        "storage corruption detected: writes are blocked until the recovery check passes; reads still work",
        recovery_options=[
            RecoveryOption(
                action="retry_after_recovery",
                success_probability=0.7,
                description="Retry the write after eta_seconds; GET /api/v1/system/health shows it.",
            ),
            RecoveryOption(
                action="read_only_mode",
                success_probability=0.95,
                description="Reads keep working while writes are blocked.",
            ),
        ],
        eta_seconds=round(eta, 3),
        incident_id=incident_id,
    )


async def recover(runtime: Runtime) -> bool:
    """Once the corruption is gone, read the store back; unblock writes if that works."""
    if not runtime.integrity.blocked or runtime.chaos.active(Fault.STORAGE_CORRUPTION):
        return False

    async def verify(connection: Connection) -> None:
        for table in ("agents", "tasks", "token_families"):
            await connection.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names

    await runtime.db.run(verify, timeout=max(2.0, runtime.settings.db_timeout * 4))
    runtime.integrity.unblock()
    return True
