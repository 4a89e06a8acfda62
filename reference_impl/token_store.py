"""PostgreSQL side of authentication: clients, token families and refresh tokens.

Why families: every refresh token descends from one login. Rotation marks
the presented token used and issues its successor in the same family; if a
used token is presented again, someone holds a copy (theft or replay), so the
whole family is revoked — the legitimate client must log in again and the
attacker's tokens die with it (OAuth 2.0 Security BCP, refresh-token reuse
detection). Each outcome is decided inside one transaction with the token
row locked, so two concurrent refreshes cannot both succeed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from reference_impl.database import Connection, Database
from reference_impl.tokens import new_refresh_token, refresh_token_digest


class RefreshOutcome(StrEnum):
    ROTATED = "rotated"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REUSED = "reused"


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    role: str
    secret_hash: str
    disabled: bool


@dataclass(frozen=True)
class RefreshResult:
    outcome: RefreshOutcome
    family_id: str | None = None
    client_id: str | None = None
    role: str | None = None
    refresh_token: str | None = None


async def find_client(db: Database, client_id: str) -> ClientRecord | None:
    row = await db.run(
        lambda c: c.fetchrow(
            "SELECT client_id, role, secret_hash, disabled FROM clients WHERE client_id = $1", client_id
        )
    )
    if row is None:
        return None
    return ClientRecord(row["client_id"], row["role"], row["secret_hash"], row["disabled"])


async def start_family(db: Database, client_id: str, refresh_ttl: int) -> tuple[str, str]:
    """A new token family and its first refresh token: (family_id, refresh_token)."""
    family_id = uuid.uuid4()
    token = new_refresh_token()
    expires = datetime.now(UTC) + timedelta(seconds=refresh_ttl)

    async def insert(connection: Connection) -> None:
        async with connection.transaction():
            await connection.execute(
                "INSERT INTO token_families (id, client_id) VALUES ($1, $2)", family_id, client_id
            )
            await connection.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)",
                refresh_token_digest(token),
                family_id,
                expires,
            )

    await db.run(insert)
    return str(family_id), token


async def rotate(db: Database, presented: str, refresh_ttl: int) -> RefreshResult:
    """Rotate ``presented`` or explain why not; reuse revokes the whole family (committed)."""
    digest = refresh_token_digest(presented)

    async def decide(connection: Connection) -> RefreshResult:
        async with connection.transaction():
            row = await connection.fetchrow(
                "SELECT rt.family_id, rt.expires_at, rt.rotated_at, f.revoked_at, f.client_id, c.role,"
                " c.disabled FROM refresh_tokens rt JOIN token_families f ON f.id = rt.family_id"
                " JOIN clients c ON c.client_id = f.client_id WHERE rt.token_hash = $1 FOR UPDATE OF rt, f",
                digest,
            )
            if row is None:
                return RefreshResult(RefreshOutcome.UNKNOWN)
            family_id = row["family_id"]
            base = {"family_id": str(family_id), "client_id": row["client_id"], "role": row["role"]}
            if row["revoked_at"] is not None or row["disabled"]:
                return RefreshResult(RefreshOutcome.REVOKED, **base)
            if row["rotated_at"] is not None:
                await connection.execute(
                    "UPDATE token_families SET revoked_at = now(), revoke_reason = 'refresh token reuse'"
                    " WHERE id = $1",
                    family_id,
                )
                return RefreshResult(RefreshOutcome.REUSED, **base)
            if row["expires_at"] <= datetime.now(UTC):
                return RefreshResult(RefreshOutcome.EXPIRED, **base)
            successor = new_refresh_token()
            await connection.execute(
                "UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1", digest
            )
            await connection.execute(
                "INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)",
                refresh_token_digest(successor),
                family_id,
                datetime.now(UTC) + timedelta(seconds=refresh_ttl),
            )
            return RefreshResult(RefreshOutcome.ROTATED, refresh_token=successor, **base)

    return await db.run(decide)


async def revoke_family(db: Database, family_id: str, reason: str) -> None:
    await db.run(
        lambda c: c.execute(
            "UPDATE token_families SET revoked_at = coalesce(revoked_at, now()), revoke_reason ="
            " coalesce(revoke_reason, $2) WHERE id = $1",
            uuid.UUID(family_id),
            reason,
        )
    )


async def recently_revoked(db: Database, within_seconds: int) -> list[str]:
    """Families revoked within the access-token lifetime (their access tokens may still circulate)."""
    rows = await db.run(
        lambda c: c.fetch(
            "SELECT id FROM token_families WHERE revoked_at > now() - make_interval(secs => $1)",
            float(within_seconds),
        )
    )
    return [str(row["id"]) for row in rows]
