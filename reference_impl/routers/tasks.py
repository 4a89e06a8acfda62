"""``/api/v1/tasks``: submission with capability matching, progress, cancellation (R9 rows 6-7).

* no capable agent free → 202 with the task stored ``queued`` (assigned later
  by the background worker);
* PostgreSQL unavailable → 424 Failed Dependency with resolution guidance
  (a task must not be acknowledged before it is stored);
* PII in the payload → 422 listing the offending fields, counted in metrics;
* progress of a task whose agent stopped heart-beating → the last known
  value, ``stale: true`` and ``recovery_status: agent_unresponsive``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse

from reference_impl import task_store
from reference_impl.auth import Operator, Viewer
from reference_impl.chaos import Fault
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import ApiError, ErrorCategory, FieldError, RecoveryOption, error_responses
from reference_impl.guards import Guarded
from reference_impl.pii import scan
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.schemas.tasks import (
    ProgressReport,
    Task,
    TaskCreate,
    TaskList,
    TaskProgress,
    TaskQueued,
    TaskStatus,
)
from reference_impl.storage_integrity import ensure_writable

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
TaskId = Annotated[uuid.UUID, Path(description="The task's id (a UUID).")]
UNRESPONSIVE_AFTER_INTERVALS = 3
LOCATION = {"Location": {"description": "URL of the task.", "schema": {"type": "string"}, "required": True}}


def _failed_dependency(exc: DependencyUnavailable) -> ApiError:
    return ApiError(
        424,
        ErrorCategory.EXTERNAL_DEPENDENCY,
        "task_store_unavailable",
        f"the task store (PostgreSQL) is unavailable ({exc.reason}); the task was not accepted",
        recovery_options=[
            RecoveryOption(
                action="resubmit_after_delay",
                success_probability=0.8,
                description="Resubmit the same task after Retry-After; nothing was stored.",
            ),
            RecoveryOption(
                action="check_health",
                success_probability=0.5,
                description="GET /api/v1/system/health shows when task submission is back.",
            ),
        ],
        eta_seconds=round(exc.retry_after, 3),
        headers={"Retry-After": str(max(1, round(exc.retry_after)))},
    )


def _not_found(task_id: uuid.UUID) -> ApiError:
    return ApiError(
        404,
        ErrorCategory.NOT_FOUND,
        "task_not_found",
        f"no task with id {task_id}",
        recovery_options=[
            RecoveryOption(
                action="list_tasks",
                success_probability=0.9,
                description="GET /api/v1/tasks to find valid ids.",
            )
        ],
    )


@router.post(
    "",
    dependencies=[Guarded],
    status_code=201,
    response_model=Task,
    summary="Submit a task",
    responses={
        201: {"headers": LOCATION, "description": "Stored and assigned to a capable agent."},
        202: {
            "model": TaskQueued,
            "headers": LOCATION,
            "description": "Stored; no capable agent is free yet.",
        },
        **error_responses(401, 403, 422, 424, 503),
    },
)
async def submit_task(body: TaskCreate, response: Response, runtime: RuntimeDep, _caller: Operator) -> Any:
    ensure_writable(runtime)
    findings = scan(body.payload)
    if findings:
        for finding in findings:
            runtime.telemetry.count("pii_blocked", finding.kind)
        raise ApiError(
            422,
            ErrorCategory.VALIDATION,
            "pii_detected",
            "the payload contains personal data; remove or tokenise it",
            recovery_options=[
                RecoveryOption(
                    action="remove_pii",
                    success_probability=0.95,
                    description="Replace personal data by an opaque reference.",
                )
            ],
            details=[
                FieldError(
                    field=f.field,
                    type=f"pii.{f.kind}",
                    message=f"{f.kind} detected",
                    suggestion="remove the value or replace it by an opaque reference",
                )
                for f in findings
            ],
        )
    try:
        record, capable = await task_store.submit(runtime.db, body)
    except DependencyUnavailable as exc:
        raise _failed_dependency(exc) from exc
    task = Task.model_validate(record)
    location = f"/api/v1/tasks/{task.id}"
    runtime.events.publish(
        "task.created",
        {
            "task_id": str(task.id),
            "status": task.status,
            "agent_id": str(task.agent_id) if task.agent_id else None,
        },
    )
    if task.status == "queued":
        queued = TaskQueued(
            task=task,
            required_capabilities=task.required_capabilities,
            capable_agents=capable,
            reason="no capable agent is free" if capable else "no agent has these capabilities",
        )
        return JSONResponse(queued.model_dump(mode="json"), status_code=202, headers={"Location": location})
    response.headers["Location"] = location
    return task


@router.get("", response_model=TaskList, summary="List tasks", responses=error_responses(401, 403, 422, 503))
async def list_tasks(
    runtime: RuntimeDep,
    _caller: Viewer,
    status: Annotated[TaskStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TaskList:
    records = await task_store.list_tasks(runtime.db, status, limit, offset)
    return TaskList(items=[Task.model_validate(r) for r in records], limit=limit, offset=offset)


@router.get(
    "/{task_id}",
    response_model=Task,
    summary="Get one task",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_task(task_id: TaskId, runtime: RuntimeDep, _caller: Viewer) -> Task:
    record = await task_store.get_task(runtime.db, task_id)
    if record is None:
        raise _not_found(task_id)
    return Task.model_validate(record)


@router.post(
    "/{task_id}/cancel",
    dependencies=[Guarded],
    response_model=Task,
    summary="Cancel a task",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def cancel_task(task_id: TaskId, runtime: RuntimeDep, _caller: Operator) -> Task:
    ensure_writable(runtime)
    outcome, record = await task_store.cancel(runtime.db, task_id)
    if record is None:
        raise _not_found(task_id)
    if outcome == "finished":
        raise ApiError(
            409,
            ErrorCategory.CONFLICT,
            "task_finished",
            f"the task is already {record['status']}; nothing to cancel",
        )
    runtime.events.publish("task.cancelled", {"task_id": str(task_id)})
    return Task.model_validate(record)


@router.post(
    "/{task_id}/progress",
    dependencies=[Guarded],
    response_model=Task,
    summary="Report a task's progress (agent)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def report_progress(
    task_id: TaskId, body: ProgressReport, runtime: RuntimeDep, _caller: Operator
) -> Task:
    ensure_writable(runtime)
    record = await task_store.report_progress(runtime.db, task_id, body)
    if record is None:
        existing = await task_store.get_task(runtime.db, task_id)
        if existing is None:
            raise _not_found(task_id)
        raise ApiError(
            409,
            ErrorCategory.CONFLICT,
            "task_not_active",
            f"the task is {existing['status']}; progress applies to assigned or running tasks",
        )
    task = Task.model_validate(record)
    runtime.events.publish(
        "task.progress.updated",
        {
            "task_id": str(task_id),
            "status": task.status,
            "steps_done": task.steps_done,
            "steps_total": task.steps_total,
            "percent": task.progress_percent,
        },
    )
    return task


@router.get(
    "/{task_id}/progress",
    response_model=TaskProgress,
    summary="A task's progress",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_progress(task_id: TaskId, runtime: RuntimeDep, _caller: Viewer) -> TaskProgress:
    """Reported percent when the agent sends one, else step-based; stale if the agent went quiet."""
    record = await task_store.progress_view(runtime.db, task_id)
    if record is None:
        raise _not_found(task_id)
    warnings: list[str] = []
    reported = record["progress_percent"]
    if reported is not None and runtime.chaos.active(Fault.METRICS_CALCULATION_FAILURE):
        reported = None
        warnings.append("progress calculation failed; showing simplified step-based progress")
    percent = reported if reported is not None else 100.0 * record["steps_done"] / record["steps_total"]
    recovery = "ok"
    if record["agent_id"] is None:
        recovery = "not_started"
    elif record["status"] in ("assigned", "running"):
        interval = timedelta(seconds=(record["agent_interval"] or 30) * UNRESPONSIVE_AFTER_INTERVALS)
        last_sign = record["agent_heartbeat_at"] or record["agent_created_at"]
        if last_sign is not None and datetime.now(UTC) - last_sign > interval:
            recovery = "agent_unresponsive"
            warnings.append("the agent stopped heart-beating; this is the last known progress")
    return TaskProgress(
        task_id=task_id,
        status=record["status"],
        percent=round(min(percent, 100.0), 3),
        steps_done=record["steps_done"],
        steps_total=record["steps_total"],
        method="reported" if reported is not None else "step_based",
        updated_at=record["progress_updated_at"],
        agent_id=record["agent_id"],
        recovery_status=recovery,
        stale=recovery == "agent_unresponsive",
        warnings=warnings,
    )
