"""Tamper-evident audit trail: every mutation, hash-chained in PostgreSQL.

Each entry's ``hash`` is SHA-256 over its own fields and the previous entry's
hash, and sequence numbers are gap-free (assigned under a transaction-scoped
advisory lock, not by a sequence that skips on rollback). So:

* a modified entry no longer matches its hash;
* a removed entry leaves a gap in ``seq`` and breaks the next ``prev_hash``;
* removing entries at the tail is caught by the head (last seq and hash),
  which is also kept outside the table: in this process and in Redis.

Entries are recorded by :class:`AuditMiddleware` after the response (who,
role, method, path, status; never request bodies, which may hold PII) and
written by a background flusher in batches, so a slow database never slows a
request; while PostgreSQL is away entries wait in memory (bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_impl.database import Database
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.redis_store import RedisStore

log = logging.getLogger("prism.audit")

GENESIS = "0" * 64
HEAD_KEY = "prism:audit:head"
MAX_PENDING = 100_000
FLUSH_BATCH = 1000
_LOCK_KEY = 727_274_002  # "PRISM audit chain"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_AUDITED = ("/api/v1/chaos",)  # test tooling: its use is in the service log


@dataclass(frozen=True)
class PendingEntry:
    occurred_at: str
    actor: str
    role: str | None
    method: str
    path: str
    status: int


def entry_hash(seq: int, entry: dict[str, Any], prev_hash: str) -> str:
    """The hash of one entry: canonical JSON of its fields and the previous hash."""
    document = {
        "seq": seq,
        "occurred_at": entry["occurred_at"],
        "actor": entry["actor"],
        "role": entry["role"],
        "method": entry["method"],
        "path": entry["path"],
        "status": entry["status"],
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditTrail:
    """Pending entries of this process and the head of the chain it last saw."""

    def __init__(self) -> None:
        self.pending: deque[PendingEntry] = deque()
        self.dropped = 0
        self.head_seq = 0
        self.head_hash = GENESIS
        self._flushing = asyncio.Lock()  # the flusher and /audit/verify must not write the same batch twice

    def record(self, entry: PendingEntry) -> None:
        if len(self.pending) >= MAX_PENDING:
            self.dropped += 1
            log.error("audit buffer full; entry dropped: %s", entry)
            return
        self.pending.append(entry)

    async def flush(self, db: Database, redis: RedisStore) -> int:
        """Append pending entries to the chain; returns how many were written."""
        async with self._flushing:
            return await self._flush(db, redis)

    async def _flush(self, db: Database, redis: RedisStore) -> int:
        batch = [self.pending[i] for i in range(min(FLUSH_BATCH, len(self.pending)))]
        if not batch:
            return 0

        async def append(connection: Any) -> tuple[int, str]:
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
                last = await connection.fetchrow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                seq, prev = (int(last["seq"]), str(last["hash"])) if last else (0, GENESIS)
                rows = []
                for item in batch:
                    seq += 1
                    fields = item.__dict__
                    digest = entry_hash(seq, fields, prev)
                    rows.append(
                        (
                            seq,
                            item.occurred_at,
                            item.actor,
                            item.role,
                            item.method,
                            item.path,
                            item.status,
                            prev,
                            digest,
                        )
                    )
                    prev = digest
                await connection.executemany(
                    "INSERT INTO audit_log (seq, occurred_at, actor, role, method, path, status, prev_hash,"
                    " hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    rows,
                )
                return seq, prev

        head_seq, head_hash = await db.run(append, timeout=max(2.0, db.settings.db_timeout * 4))
        for _ in batch:
            self.pending.popleft()
        if head_seq > self.head_seq:
            self.head_seq, self.head_hash = head_seq, head_hash
        with contextlib.suppress(DependencyUnavailable):  # the in-process head still protects the tail
            await redis.run(lambda client: _raise_head(client, head_seq, head_hash))
        return len(batch)


async def _raise_head(client: Any, seq: int, digest: str) -> None:
    """Store the head in Redis unless a later one is already there."""
    current = await client.hget(HEAD_KEY, "seq")
    if current is None or int(current) < seq:
        await client.hset(HEAD_KEY, mapping={"seq": seq, "hash": digest})


async def stored_head(redis: RedisStore) -> tuple[int, str] | None:
    """The head recorded in Redis, or None when Redis is unavailable or has none."""
    try:
        raw = await redis.run(lambda client: client.hgetall(HEAD_KEY))
    except DependencyUnavailable:
        return None
    if not raw:
        return None
    digest = raw[b"hash"]
    return int(raw[b"seq"]), digest.decode() if isinstance(digest, bytes) else str(digest)


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str  # modified | removed | truncated
    detail: str


def verify_chain(rows: list[dict[str, Any]], known_head: tuple[int, str] | None) -> list[Problem]:
    """Every problem in the chain ``rows`` (ordered by seq), given the head known from outside the table."""
    problems: list[Problem] = []
    expected_seq = 1
    prev = GENESIS
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            problems.append(
                Problem(expected_seq, "removed", f"entries {expected_seq}..{seq - 1} are missing")
            )
        elif row["prev_hash"] != prev:
            problems.append(Problem(seq, "modified", "prev_hash does not match the previous entry"))
        if entry_hash(seq, row, row["prev_hash"]) != row["hash"]:
            problems.append(Problem(seq, "modified", "the entry does not match its hash"))
        expected_seq = seq + 1
        prev = row["hash"]
    if known_head is not None:
        head_seq, head_hash = known_head
        last_seq = expected_seq - 1
        if last_seq < head_seq:
            problems.append(
                Problem(
                    last_seq + 1, "truncated", f"entries {last_seq + 1}..{head_seq} were removed at the end"
                )
            )
        elif head_seq > 0:
            at_head = next((row for row in rows if int(row["seq"]) == head_seq), None)
            if at_head is not None and at_head["hash"] != head_hash:
                problems.append(
                    Problem(head_seq, "modified", "the head entry differs from the recorded head")
                )
    return problems


class AuditMiddleware:
    """Pure ASGI middleware: after each mutating ``/api/v1`` request, record who did what and the status."""

    def __init__(self, app: ASGIApp, trail: AuditTrail) -> None:
        self.app = app
        self.trail = trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in MUTATING
            or not scope["path"].startswith("/api/v1/")
            or scope["path"].startswith(NOT_AUDITED)
        ):
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            principal = scope.get("state", {}).get("principal")
            self.trail.record(
                PendingEntry(
                    occurred_at=datetime.now(UTC).isoformat(),
                    actor=getattr(principal, "client_id", "unauthenticated"),
                    role=getattr(principal, "role", None),
                    method=scope["method"],
                    path=scope["path"][:500],
                    status=status,
                )
            )
