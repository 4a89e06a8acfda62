"""``POST /api/v1/sync``: apply a batch of operations a client queued while offline."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

from reference_impl import sync
from reference_impl.auth import Operator
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import ApiError, ErrorCategory, RecoveryOption, error_responses
from reference_impl.guards import Guarded
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.schemas.agents import _integral_number as integral_number
from reference_impl.storage_integrity import ensure_writable

router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
MAX_OPERATIONS = 10_000
Priority = Literal["critical", "high", "normal", "low", "deferred"]
Outcome = Literal["applied", "superseded", "duplicate", "conflict_won", "conflict_lost"]
NodeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
Counter = Annotated[int, Field(ge=0, le=2**53), BeforeValidator(integral_number)]


class _Operation(BaseModel):
    """Fields common to every operation on a replicated record."""

    model_config = ConfigDict(extra="forbid", strict=True)

    op_id: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,100}$", description="Unique per operation: replay is a no-op."
    )
    priority: Priority = "normal"
    key: str = Field(pattern=r"^[A-Za-z0-9._:/-]{1,200}$")
    vector_clock: dict[NodeId, Counter] = Field(
        max_length=64,
        description="The record's clock as the client saw it: node id -> counter.",
        json_schema_extra={"additionalProperties": False},
    )
    timestamp: float = Field(
        ge=0, le=1e11, allow_inf_nan=False, description="Client wall-clock time, Unix seconds."
    )


class PutOperation(_Operation):
    """Write the whole record."""

    action: Literal["put"]
    value: dict[str, JsonValue]


class DeleteOperation(_Operation):
    """Delete the record (a tombstone that still takes part in conflict resolution)."""

    action: Literal["delete"]


SyncOperation = Annotated[PutOperation | DeleteOperation, Field(discriminator="action")]


class SyncBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    client_id: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="The sending replica (LWW tie-break)."
    )
    operations: list[SyncOperation] = Field(min_length=1, max_length=MAX_OPERATIONS)


class SyncResult(BaseModel):
    op_id: str
    key: str
    priority: Priority
    outcome: Outcome
    vector_clock: dict[str, int] = Field(description="The record's clock after this operation.")


class SyncReport(BaseModel):
    """Results in processing order (priority first, batch order within a priority)."""

    client_id: str
    received: int
    counts: dict[str, int] = Field(description="Operations per outcome.")
    by_priority: dict[str, int] = Field(description="Operations per priority.")
    results: list[SyncResult]


@router.post(
    "",
    dependencies=[Guarded],
    response_model=SyncReport,
    summary="Apply a batch of offline operations",
    responses=error_responses(401, 403, 422, 503),
)
async def apply_sync(body: SyncBatch, runtime: RuntimeDep, _caller: Operator) -> SyncReport:
    """Up to 10,000 operations, all or nothing. Replaying a batch is safe (`duplicate`); concurrent
    changes resolve last-writer-wins by (timestamp, client_id) with merged vector clocks."""
    ensure_writable(runtime)
    operations: list[dict[str, Any]] = [op.model_dump() for op in body.operations]
    try:
        outcomes = await runtime.db.run(
            lambda connection: sync.apply_batch(connection, body.client_id, operations),
            timeout=max(10.0, runtime.settings.db_timeout * 10),
        )
    except DependencyUnavailable as exc:
        raise ApiError(
            503,
            ErrorCategory.NETWORK if exc.timed_out else ErrorCategory.EXTERNAL_DEPENDENCY,
            "sync_unavailable",
            f"PostgreSQL is unavailable ({exc.reason}); nothing of the batch was applied",
            recovery_options=[
                RecoveryOption(
                    action="keep_queued_and_retry",
                    success_probability=0.8,
                    description="Keep the operations queued and resend the same batch after Retry-After.",
                )
            ],
            eta_seconds=round(exc.retry_after, 3),
        ) from exc
    counts: dict[str, int] = {}
    by_priority: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        by_priority[outcome.priority] = by_priority.get(outcome.priority, 0) + 1
    runtime.telemetry.count("sync_batch", body.client_id[:16])
    return SyncReport(
        client_id=body.client_id,
        received=len(operations),
        counts=counts,
        by_priority=by_priority,
        results=[
            SyncResult(
                op_id=o.op_id,
                key=o.key,
                priority=o.priority,
                outcome=o.outcome,
                vector_clock=o.vector_clock,
            )
            for o in outcomes
        ],
    )
