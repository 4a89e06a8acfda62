"""Offline sync: clients replay operations queued while offline; conflicts resolve by vector clocks.

A client (a device, an agent) keeps operations on replicated records while it
cannot reach the API and sends them later in one batch (up to 10,000) to
``POST /api/v1/sync``. Each operation carries an id, a priority, the record's
vector clock as the client knows it and the client's wall-clock time.

* Operations are applied in priority order (critical, high, normal, low,
  deferred), batch order within a priority.
* Idempotent replay: an operation id already applied (in this batch or any
  earlier one) is reported ``duplicate`` and changes nothing, so a client that
  lost the reply simply sends the batch again.
* Conflicts: if the operation's clock dominates the stored one it is applied;
  if it is dominated (or equal) it is ``superseded``; if the clocks are
  concurrent, last writer wins by (timestamp, client id), and the stored clock
  becomes the element-wise maximum of both either way, so a later operation
  that saw the merged state dominates it.

The batch is one PostgreSQL transaction under an advisory lock: all or nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PRIORITIES = ("critical", "high", "normal", "low", "deferred")
_LOCK_KEY = 727_274_003  # "PRISM sync"


@dataclass
class Record:
    value: Any
    deleted: bool
    clock: dict[str, int]
    written_at: float
    origin: str


def compare(a: dict[str, int], b: dict[str, int]) -> str:
    """``after`` if a dominates b, ``before`` if b dominates a, ``equal`` or ``concurrent``."""
    keys = a.keys() | b.keys()
    greater = any(a.get(k, 0) > b.get(k, 0) for k in keys)
    smaller = any(a.get(k, 0) < b.get(k, 0) for k in keys)
    if greater and smaller:
        return "concurrent"
    if greater:
        return "after"
    if smaller:
        return "before"
    return "equal"


def merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: max(a.get(k, 0), b.get(k, 0)) for k in sorted(a.keys() | b.keys())}


@dataclass(frozen=True)
class Outcome:
    op_id: str
    key: str
    priority: str
    outcome: str  # applied | superseded | duplicate | conflict_won | conflict_lost
    vector_clock: dict[str, int]


def resolve(
    client_id: str,
    operations: list[dict[str, Any]],
    stored: dict[str, Record],
    seen: set[str],
) -> tuple[list[Outcome], dict[str, Record], list[str]]:
    """Pure resolution: outcomes in processing order, the records to write, the new operation ids."""
    order = sorted(range(len(operations)), key=lambda i: (PRIORITIES.index(operations[i]["priority"]), i))
    changed: dict[str, Record] = {}
    new_ids: list[str] = []
    outcomes: list[Outcome] = []
    for index in order:
        op = operations[index]
        key, clock = op["key"], op["vector_clock"]
        current = changed.get(key) or stored.get(key)
        if op["op_id"] in seen:
            outcomes.append(
                Outcome(op["op_id"], key, op["priority"], "duplicate", current.clock if current else {})
            )
            continue
        seen.add(op["op_id"])
        new_ids.append(op["op_id"])
        incoming = Record(
            value=op.get("value") if op["action"] == "put" else None,
            deleted=op["action"] == "delete",
            clock=dict(clock),
            written_at=float(op["timestamp"]),
            origin=client_id,
        )
        if current is None:
            verdict, winner = "applied", incoming
        else:
            relation = compare(clock, current.clock)
            if relation == "after":
                verdict, winner = "applied", incoming
            elif relation in ("before", "equal"):
                verdict, winner = "superseded", current
            elif (incoming.written_at, incoming.origin) > (current.written_at, current.origin):
                verdict, winner = "conflict_won", incoming
            else:
                verdict, winner = "conflict_lost", current
            winner = Record(
                winner.value, winner.deleted, merge(clock, current.clock), winner.written_at, winner.origin
            )
        if verdict != "superseded":
            changed[key] = winner
        outcomes.append(Outcome(op["op_id"], key, op["priority"], verdict, winner.clock))
    return outcomes, changed, new_ids


async def apply_batch(connection: Any, client_id: str, operations: list[dict[str, Any]]) -> list[Outcome]:
    """Resolve and write one batch in a single transaction."""
    keys = sorted({op["key"] for op in operations})
    op_ids = [op["op_id"] for op in operations]
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        rows = await connection.fetch(
            "SELECT key, value, deleted, vector_clock, written_at, origin FROM sync_records"
            " WHERE key = ANY($1)",
            keys,
        )
        stored = {
            row["key"]: Record(
                None if row["value"] is None else json.loads(row["value"]),
                row["deleted"],
                dict(row["vector_clock"]),
                row["written_at"],
                row["origin"],
            )
            for row in rows
        }
        seen = {
            row["op_id"]
            for row in await connection.fetch(
                "SELECT op_id FROM sync_operations WHERE op_id = ANY($1)", op_ids
            )
        }
        outcomes, changed, new_ids = resolve(client_id, operations, stored, seen)
        if changed:
            await connection.executemany(
                "INSERT INTO sync_records (key, value, deleted, vector_clock, written_at, origin)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
                " deleted = EXCLUDED.deleted, vector_clock = EXCLUDED.vector_clock,"
                " written_at = EXCLUDED.written_at, origin = EXCLUDED.origin, updated_at = now()",
                [(k, _text(r.value), r.deleted, r.clock, r.written_at, r.origin) for k, r in changed.items()],
            )
        if new_ids:
            verdicts = {o.op_id: o.outcome for o in outcomes}
            await connection.executemany(
                "INSERT INTO sync_operations (op_id, client_id, outcome) VALUES ($1, $2, $3)"
                " ON CONFLICT (op_id) DO NOTHING",
                [(op_id, client_id, verdicts[op_id]) for op_id in new_ids],
            )
    return outcomes


def _text(value: Any) -> str | None:
    """A record's JSON as ASCII text: any JSON string survives, even NUL or a lone surrogate."""
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=True)
