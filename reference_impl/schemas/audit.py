"""Audit trail bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AuditEntry(BaseModel):
    """One recorded mutation, chained to the previous entry by ``prev_hash``."""

    seq: int
    occurred_at: str = Field(description="ISO 8601, UTC; hashed exactly as stored.")
    actor: str = Field(description="Client id, or `unauthenticated`.")
    role: str | None
    method: str
    path: str
    status: int
    prev_hash: str
    hash: str = Field(description="SHA-256 over the entry's fields and `prev_hash`.")


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_after_seq: int | None = Field(description="Pass as `after_seq` for the next page; null at the end.")
    pending: int = Field(description="Entries of this process not yet written to PostgreSQL.")


class AuditProblem(BaseModel):
    seq: int
    kind: Literal["modified", "removed", "truncated"]
    detail: str


class AuditVerification(BaseModel):
    """Result of walking the whole chain."""

    valid: bool
    entries_checked: int
    head_seq: int = Field(description="Last sequence number in the table.")
    known_head_seq: int = Field(description="Highest head recorded outside the table (process, Redis).")
    problems: list[AuditProblem]
