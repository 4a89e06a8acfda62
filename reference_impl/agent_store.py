"""PostgreSQL side of agents: the SQL, and conversion between rows and API models.

Writes are idempotent by agent id (``ON CONFLICT DO NOTHING``) because the
same registration can reach the database twice: once from a request whose
reply was lost in a network fault, and again from the offline queue.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from reference_impl.database import Connection, Database
from reference_impl.offline_queue import QueuedOperation
from reference_impl.schemas.agents import Agent, AgentConfig, AgentCreate, Heartbeat

_COLUMNS = (
    "id, name, capabilities, version, status, config, config_version, created_at, updated_at,"
    " last_heartbeat_at, pending_config"
)
KIND_CREATE = "agent.create"
KIND_HEARTBEAT = "agent.heartbeat"


def new_agent_record(body: AgentCreate) -> dict[str, Any]:
    """The full JSON-able record of a new agent; the same record goes to PostgreSQL or the queue."""
    now = datetime.now(UTC).isoformat()
    config = body.config or AgentConfig()
    return {
        "id": str(uuid.uuid4()),
        "name": body.name,
        "capabilities": list(body.capabilities),
        "version": body.version,
        "status": "registered",
        "config": config.model_dump(mode="json"),
        "config_version": 1,
        "created_at": now,
        "updated_at": now,
        "last_heartbeat_at": None,
        "pending_config": None,
    }


def agent_from_record(record: dict[str, Any], *, sync_state: str = "synced") -> Agent:
    """An API model from a row or a queued/cached record (both JSON-shaped)."""
    status = "pending_sync" if sync_state == "pending_sync" else record["status"]
    return Agent.model_validate({**record, "status": status, "sync_state": sync_state})


def _row_record(row: Any) -> dict[str, Any]:
    record = dict(row)
    record["id"] = str(record["id"])
    record["capabilities"] = list(record["capabilities"])
    for key in ("created_at", "updated_at", "last_heartbeat_at", "pending_config_at"):
        if record.get(key) is not None:
            record[key] = record[key].isoformat()
    return record


async def _insert(connection: Connection, record: dict[str, Any], via: str) -> bool:
    status = await connection.execute(
        "INSERT INTO agents (id, name, capabilities, version, status, config, config_version, created_at,"
        " updated_at, created_via) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (id) DO NOTHING",
        uuid.UUID(record["id"]),
        record["name"],
        record["capabilities"],
        record["version"],
        record["status"],
        record["config"],
        record["config_version"],
        datetime.fromisoformat(record["created_at"]),
        datetime.fromisoformat(record["updated_at"]),
        via,
    )
    return bool(status.endswith(" 1"))


async def insert_agent(db: Database, record: dict[str, Any]) -> None:
    await db.run(lambda c: _insert(c, record, "api"))


async def list_agents(db: Database, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await db.run(
        lambda c: c.fetch(
            f"SELECT {_COLUMNS} FROM agents ORDER BY created_at, id LIMIT $1 OFFSET $2",  # noqa: S608 - constant
            limit,
            offset,
        )
    )
    return [_row_record(row) for row in rows]


async def get_agent(db: Database, agent_id: uuid.UUID) -> dict[str, Any] | None:
    row = await db.run(
        lambda c: c.fetchrow(
            f"SELECT {_COLUMNS} FROM agents WHERE id = $1",  # noqa: S608 - constant column list
            agent_id,
        )
    )
    return None if row is None else _row_record(row)


async def delete_agent(db: Database, agent_id: uuid.UUID) -> bool:
    status = await db.run(lambda c: c.execute("DELETE FROM agents WHERE id = $1", agent_id))
    return bool(status.endswith(" 1"))


async def update_config(db: Database, agent_id: uuid.UUID, config: AgentConfig) -> dict[str, Any] | None:
    row = await db.run(
        lambda c: c.fetchrow(
            f"UPDATE agents SET config = $2, config_version = config_version + 1, updated_at = now(),"  # noqa: S608
            f" pending_config = NULL, pending_config_at = NULL WHERE id = $1 RETURNING {_COLUMNS}",
            agent_id,
            config.model_dump(mode="json"),
        )
    )
    return None if row is None else _row_record(row)


async def queue_config(db: Database, agent_id: uuid.UUID, config: AgentConfig) -> dict[str, Any] | None:
    """Park a configuration for a busy agent; the newest parked one wins."""
    row = await db.run(
        lambda c: c.fetchrow(
            f"UPDATE agents SET pending_config = $2, pending_config_at = now(), updated_at = now()"  # noqa: S608
            f" WHERE id = $1 RETURNING {_COLUMNS}, pending_config_at",
            agent_id,
            config.model_dump(mode="json"),
        )
    )
    return None if row is None else _row_record(row)


async def apply_pending_configs(db: Database, busy_agent: str | None) -> list[dict[str, Any]]:
    """Apply parked configurations of every agent that is not busy; returns the updated agents."""
    rows = await db.run(
        lambda c: c.fetch(
            f"UPDATE agents SET config = pending_config, config_version = config_version + 1,"  # noqa: S608
            " pending_config = NULL, pending_config_at = NULL, updated_at = now()"
            " WHERE pending_config IS NOT NULL AND ($1::uuid IS NULL OR id <> $1::uuid)"
            f" RETURNING {_COLUMNS}",
            uuid.UUID(busy_agent) if busy_agent else None,
        )
    )
    return [_row_record(row) for row in rows]


async def record_heartbeat(
    db: Database, agent_id: uuid.UUID, heartbeat: Heartbeat, at: datetime
) -> dict[str, Any] | None:
    row = await db.run(lambda c: _apply_heartbeat(c, agent_id, heartbeat.model_dump(mode="json"), at))
    return None if row is None else _row_record(row)


async def _apply_heartbeat(
    connection: Connection, agent_id: uuid.UUID, sample: dict[str, Any], at: datetime
) -> Any:
    """Newest heartbeat wins: an older one replayed from the queue never overwrites a newer one."""
    return await connection.fetchrow(
        f"UPDATE agents SET status = $2, heartbeat = $3, last_heartbeat_at = $4, updated_at = now()"  # noqa: S608
        f" WHERE id = $1 AND (last_heartbeat_at IS NULL OR last_heartbeat_at <= $4) RETURNING {_COLUMNS}",
        agent_id,
        sample["status"],
        sample,
        at,
    )


async def apply_queued(db: Database, operations: list[QueuedOperation], timeout: float) -> list[str]:
    """Commit a batch of queued operations in one transaction; returns the ids of newly created agents."""

    async def apply(connection: Connection) -> list[str]:
        created: list[str] = []
        async with connection.transaction():
            for operation in operations:
                if operation.kind == KIND_CREATE:
                    if await _insert(connection, operation.payload, "offline_queue"):
                        created.append(operation.key)
                elif operation.kind == KIND_HEARTBEAT:
                    payload = operation.payload
                    await _apply_heartbeat(
                        connection,
                        uuid.UUID(operation.key),
                        payload["heartbeat"],
                        datetime.fromisoformat(payload["received_at"]),
                    )
        return created

    return await db.run(apply, timeout=timeout)
