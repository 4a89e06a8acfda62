"""PostgreSQL side of tasks: submission with capability matching, progress, cancellation.

Matching picks the capable agent (capabilities ⊇ required, not offline or
degraded) with the fewest active tasks below its ``max_concurrent_tasks``.
Submission and matching happen in one transaction; a task nobody can take is
stored ``queued`` and the background worker retries the match as agents
register or finish work.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from reference_impl.database import Connection, Database
from reference_impl.schemas.tasks import ProgressReport, TaskCreate

COLUMNS = (
    "id, type, payload, required_capabilities, priority, status, agent_id, steps_total, steps_done,"
    " progress_percent, created_at, updated_at, finished_at"
)
ACTIVE = ("assigned", "running")
_MATCH = """
SELECT a.id FROM agents a
LEFT JOIN tasks t ON t.agent_id = a.id AND t.status IN ('assigned', 'running')
WHERE a.capabilities @> $1::text[] AND a.status IN ('registered', 'online', 'busy')
GROUP BY a.id
HAVING count(t.id) < max((a.config->>'max_concurrent_tasks')::int)
ORDER BY count(t.id), min(a.created_at)
LIMIT 1
"""


def record_of(row: Any) -> dict[str, Any]:
    record = dict(row)
    record["required_capabilities"] = list(record["required_capabilities"])
    return record


async def _match(connection: Connection, capabilities: list[str]) -> uuid.UUID | None:
    agent_id: uuid.UUID | None = await connection.fetchval(_MATCH, capabilities)
    return agent_id


async def submit(db: Database, body: TaskCreate) -> tuple[dict[str, Any], int]:
    """Store the task, assigned if an agent matches; returns (record, capable agents when queued)."""

    async def run(connection: Connection) -> tuple[dict[str, Any], int]:
        now = datetime.now(UTC)
        async with connection.transaction():
            agent_id = await _match(connection, body.required_capabilities)
            capable = 1
            if agent_id is None:
                capable = await connection.fetchval(
                    "SELECT count(*) FROM agents WHERE capabilities @> $1::text[]", body.required_capabilities
                )
            row = await connection.fetchrow(
                f"INSERT INTO tasks (id, type, payload, required_capabilities, priority, status, agent_id,"  # noqa: S608
                f" steps_total, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
                f" RETURNING {COLUMNS}",
                uuid.uuid4(),
                body.type,
                body.payload,
                body.required_capabilities,
                body.priority,
                "assigned" if agent_id else "queued",
                agent_id,
                body.steps_total,
                now,
            )
        return record_of(row), int(capable)

    return await db.run(run)


async def list_tasks(db: Database, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await db.run(
        lambda c: c.fetch(
            f"SELECT {COLUMNS} FROM tasks WHERE ($1::text IS NULL OR status = $1)"  # noqa: S608 - constant
            " ORDER BY created_at, id LIMIT $2 OFFSET $3",
            status,
            limit,
            offset,
        )
    )
    return [record_of(row) for row in rows]


async def get_task(db: Database, task_id: uuid.UUID) -> dict[str, Any] | None:
    row = await db.run(lambda c: c.fetchrow(f"SELECT {COLUMNS} FROM tasks WHERE id = $1", task_id))  # noqa: S608
    return None if row is None else record_of(row)


async def progress_view(db: Database, task_id: uuid.UUID) -> dict[str, Any] | None:
    """The task with its agent's liveness (last heartbeat and expected interval)."""
    row = await db.run(
        lambda c: c.fetchrow(
            f"SELECT {', '.join('t.' + col.strip() for col in COLUMNS.split(','))}, t.progress_updated_at,"  # noqa: S608
            " a.last_heartbeat_at AS agent_heartbeat_at, a.created_at AS agent_created_at,"
            " (a.config->>'heartbeat_interval_seconds')::int AS agent_interval"
            " FROM tasks t LEFT JOIN agents a ON a.id = t.agent_id WHERE t.id = $1",
            task_id,
        )
    )
    return None if row is None else record_of(row)


async def report_progress(db: Database, task_id: uuid.UUID, report: ProgressReport) -> dict[str, Any] | None:
    """Apply a progress report to an active task; None when it does not exist or is not active."""
    finished = report.status in ("completed", "failed")
    row = await db.run(
        lambda c: c.fetchrow(
            f"UPDATE tasks SET steps_done = least($2, steps_total), progress_percent = $3, status = $4,"  # noqa: S608
            " progress_updated_at = now(), updated_at = now(),"
            " finished_at = CASE WHEN $5 THEN now() ELSE finished_at END"
            f" WHERE id = $1 AND status IN ('assigned', 'running') RETURNING {COLUMNS}",
            task_id,
            report.steps_done,
            report.percent,
            report.status,
            finished,
        )
    )
    return None if row is None else record_of(row)


async def cancel(db: Database, task_id: uuid.UUID) -> tuple[str, dict[str, Any] | None]:
    """('cancelled', record) | ('finished', record) | ('missing', None)."""

    async def run(connection: Connection) -> tuple[str, dict[str, Any] | None]:
        row = await connection.fetchrow(
            f"UPDATE tasks SET status = 'cancelled', finished_at = now(), updated_at = now()"  # noqa: S608
            f" WHERE id = $1 AND status IN ('queued', 'assigned', 'running') RETURNING {COLUMNS}",
            task_id,
        )
        if row is not None:
            return "cancelled", record_of(row)
        row = await connection.fetchrow(f"SELECT {COLUMNS} FROM tasks WHERE id = $1", task_id)  # noqa: S608
        return ("missing", None) if row is None else ("finished", record_of(row))

    return await db.run(run)


async def assign_queued(db: Database, limit: int = 20) -> list[tuple[str, str]]:
    """Match queued tasks (most urgent first) to agents that became available: [(task_id, agent_id)]."""

    async def run(connection: Connection) -> list[tuple[str, str]]:
        assigned: list[tuple[str, str]] = []
        async with connection.transaction():
            queued = await connection.fetch(
                "SELECT id, required_capabilities FROM tasks WHERE status = 'queued'"
                " ORDER BY priority, created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            for task in queued:
                agent_id = await _match(connection, list(task["required_capabilities"]))
                if agent_id is None:
                    continue
                await connection.execute(
                    "UPDATE tasks SET status = 'assigned', agent_id = $2, updated_at = now() WHERE id = $1",
                    task["id"],
                    agent_id,
                )
                assigned.append((str(task["id"]), str(agent_id)))
        return assigned

    return await db.run(run, timeout=max(2.0, db.settings.db_timeout * 4))
