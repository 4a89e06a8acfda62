"""``/api/v1/audit``: read and verify the hash-chained audit trail (admin only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from reference_impl import audit
from reference_impl.auth import Admin
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import ApiError, ErrorCategory, RecoveryOption, error_responses
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.schemas.audit import AuditEntry, AuditPage, AuditProblem, AuditVerification

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_SELECT = "SELECT seq, occurred_at, actor, role, method, path, status, prev_hash, hash FROM audit_log"


def _unavailable(exc: DependencyUnavailable) -> ApiError:
    return ApiError(
        503,
        ErrorCategory.NETWORK if exc.timed_out else ErrorCategory.EXTERNAL_DEPENDENCY,
        "audit_unavailable",
        f"the audit trail lives in PostgreSQL, which is unavailable ({exc.reason}); entries are buffered",
        recovery_options=[
            RecoveryOption(
                action="retry_after_delay",
                success_probability=0.8,
                description="Retry after Retry-After; buffered entries are written when PostgreSQL returns.",
            )
        ],
        eta_seconds=round(exc.retry_after, 3),
    )


@router.get(
    "", response_model=AuditPage, summary="Audit entries", responses=error_responses(401, 403, 422, 503)
)
async def list_audit(
    runtime: RuntimeDep,
    _caller: Admin,
    after_seq: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Entries with `seq` above `after_seq`, oldest first."""
    try:
        rows = await runtime.db.run(
            lambda connection: connection.fetch(
                _SELECT + " WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit
            )
        )
    except DependencyUnavailable as exc:
        raise _unavailable(exc) from exc
    items = [AuditEntry.model_validate(dict(row)) for row in rows]
    return AuditPage(
        items=items,
        next_after_seq=items[-1].seq if len(items) == limit else None,
        pending=len(runtime.audit.pending),
    )


@router.get(
    "/verify",
    response_model=AuditVerification,
    summary="Verify the audit chain",
    responses=error_responses(401, 403, 503),
)
async def verify_audit(runtime: RuntimeDep, _caller: Admin) -> AuditVerification:
    """Recompute every hash and link; compare the tail with the head kept outside the table.
    `valid: false` lists each modified, removed or truncated entry."""
    trail = runtime.audit
    try:
        await trail.flush(runtime.db, runtime.redis)  # verify what has been recorded so far
        rows: list[Any] = await runtime.db.run(
            lambda connection: connection.fetch(_SELECT + " ORDER BY seq"),
            timeout=max(5.0, runtime.settings.db_timeout * 4),
        )
    except DependencyUnavailable as exc:
        raise _unavailable(exc) from exc
    heads = [(trail.head_seq, trail.head_hash)]
    stored = await audit.stored_head(runtime.redis)
    if stored is not None:
        heads.append(stored)
    known = max(heads)
    records = [dict(row) for row in rows]
    problems = audit.verify_chain(records, known if known[0] > 0 else None)
    if problems:
        kinds = sorted({p.kind for p in problems})
        runtime.announce_breach("audit_tampering", {"problems": len(problems), "kinds": kinds})
    return AuditVerification(
        valid=not problems,
        entries_checked=len(records),
        head_seq=int(records[-1]["seq"]) if records else 0,
        known_head_seq=known[0],
        problems=[AuditProblem(seq=p.seq, kind=p.kind, detail=p.detail) for p in problems],
    )
