"""``/api/v1/chaos/faults``: switch internal faults on and off (R3.5).

Mounted only when the service starts with ``PRISM_CHAOS_ENABLED=true``, so a
normal deployment has no such route at all (404, absent from the OpenAPI
schema). Every call needs ``X-Chaos-Token`` (not a user token: an operator's
bearer token must never be able to break the service).
"""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

from reference_impl.chaos import ActiveFault, Fault
from reference_impl.errors import ApiError, ErrorCategory, RecoveryOption, error_responses
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.schemas.agents import JsonInt

router = APIRouter(prefix="/api/v1/chaos", tags=["chaos"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
chaos_token_header = APIKeyHeader(name="X-Chaos-Token", auto_error=False, description="PRISM_CHAOS_TOKEN")
FaultName = Annotated[Fault, Path(description="The fault to revert.")]


class FaultRequest(BaseModel):
    """Turn one internal fault on for a while."""

    model_config = ConfigDict(extra="forbid", strict=True)

    fault: Literal[
        "storage_corruption",
        "agent_busy",
        "resource_exhaustion",
        "metrics_calculation_failure",
        "cpu_pressure",
        "memory_pressure",
    ] = Field(description="See `reference_impl/chaos.py` for what each fault does.")
    duration_seconds: JsonInt = Field(default=60, ge=1, le=3600, description="It reverts itself afterwards.")
    agent_id: uuid.UUID | None = Field(
        default=None, strict=False, description="For `agent_busy`: only this agent (else all)."
    )


class FaultStatus(BaseModel):
    fault: Fault
    injected_at: datetime
    remaining_seconds: float
    agent_id: uuid.UUID | None


class FaultList(BaseModel):
    faults: list[FaultStatus]


def _status(active: ActiveFault) -> FaultStatus:
    return FaultStatus(
        fault=active.fault,
        injected_at=active.injected_at,
        remaining_seconds=round(active.remaining(), 3),
        agent_id=uuid.UUID(active.agent_id) if active.agent_id else None,
    )


async def require_chaos_token(
    runtime: RuntimeDep, token: Annotated[str | None, Depends(chaos_token_header)]
) -> None:
    """401 unless ``X-Chaos-Token`` equals the configured token (compared in constant time)."""
    expected = runtime.settings.chaos_token or ""
    if token is None or not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(
            401,
            ErrorCategory.AUTHENTICATION,
            "chaos_token_invalid",
            "the chaos endpoint needs X-Chaos-Token",
            recovery_options=[
                RecoveryOption(
                    action="send_chaos_token",
                    success_probability=0.9,
                    description="Send X-Chaos-Token: $PRISM_CHAOS_TOKEN.",
                )
            ],
            headers={"WWW-Authenticate": 'ChaosToken realm="prism-chaos"'},
        )


Guard = Annotated[None, Depends(require_chaos_token)]


@router.get(
    "/faults", response_model=FaultList, summary="Active internal faults", responses=error_responses(401)
)
async def list_faults(runtime: RuntimeDep, _guard: Guard) -> FaultList:
    return FaultList(faults=[_status(active) for active in runtime.chaos.list()])


@router.post(
    "/faults",
    status_code=201,
    response_model=FaultStatus,
    summary="Inject an internal fault",
    responses=error_responses(401, 422),
)
async def inject_fault(body: FaultRequest, runtime: RuntimeDep, _guard: Guard) -> FaultStatus:
    """Replaces an earlier injection of the same fault; reverts itself after `duration_seconds`."""
    fault = Fault(body.fault)
    active = runtime.chaos.inject(fault, body.duration_seconds, str(body.agent_id) if body.agent_id else None)
    runtime.telemetry.count("chaos_injected", fault.value)
    return _status(active)


@router.delete(
    "/faults/{fault}",
    status_code=204,
    response_class=Response,
    summary="Revert an internal fault",
    responses={204: {"description": "Reverted."}, **error_responses(401, 404, 422)},
)
async def revert_fault(fault: FaultName, runtime: RuntimeDep, _guard: Guard) -> Response:
    if not runtime.chaos.revert(fault):
        raise ApiError(404, ErrorCategory.NOT_FOUND, "fault_not_active", f"{fault.value} is not active")
    return Response(status_code=204)


@router.delete(
    "/faults",
    status_code=204,
    response_class=Response,
    summary="Revert every internal fault",
    responses={204: {"description": "All reverted."}, **error_responses(401)},
)
async def revert_all(runtime: RuntimeDep, _guard: Guard) -> Response:
    runtime.chaos.revert_all()
    return Response(status_code=204)
