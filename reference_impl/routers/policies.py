"""``/api/v1/policies``: emergency policies that activate on outage and revert on recovery."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from reference_impl.auth import Admin, Viewer
from reference_impl.errors import error_responses
from reference_impl.guards import Guarded
from reference_impl.policies import EFFECTS, Mode, Policy, PolicyId, Trigger, activated_at
from reference_impl.runtime import Runtime, get_runtime

router = APIRouter(prefix="/api/v1/policies", tags=["policies"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PolicyPath = Annotated[PolicyId, Path(description="The policy's id.")]


class PolicyState(BaseModel):
    """A policy, its mode and whether it is in force right now."""

    id: PolicyId
    mode: Mode = Field(description="`auto`: active while `trigger` holds; `on`/`off`: forced by an admin.")
    trigger: Trigger
    active: bool
    activated_at: str | None = Field(description="ISO 8601 time it last became active (null when inactive).")
    reason: str | None
    activations: int = Field(description="Times it became active since this process started.")
    effect: str


class PolicyList(BaseModel):
    items: list[PolicyState]


class PolicyUpdate(BaseModel):
    """New mode (and optionally trigger) of a policy."""

    model_config = ConfigDict(extra="forbid", strict=True)

    mode: Literal["auto", "on", "off"]
    trigger: Literal["database_outage", "redis_outage", "any_dependency_outage"] | None = None


def _state(policy: Policy) -> PolicyState:
    at = activated_at(policy)
    return PolicyState(
        id=policy.id,
        mode=policy.mode,
        trigger=policy.trigger,
        active=policy.active,
        activated_at=None if at is None else at.isoformat(),
        reason=policy.reason,
        activations=policy.activations,
        effect=EFFECTS[policy.id],
    )


@router.get("", response_model=PolicyList, summary="Emergency policies", responses=error_responses(401, 403))
async def list_policies(runtime: RuntimeDep, _caller: Viewer) -> PolicyList:
    return PolicyList(items=[_state(policy) for policy in runtime.policies.items.values()])


@router.get(
    "/{policy_id}",
    response_model=PolicyState,
    summary="One emergency policy",
    responses=error_responses(401, 403, 422),
)
async def get_policy(policy_id: PolicyPath, runtime: RuntimeDep, _caller: Viewer) -> PolicyState:
    return _state(runtime.policies.items[policy_id])


@router.put(
    "/{policy_id}",
    dependencies=[Guarded],
    response_model=PolicyState,
    summary="Set a policy's mode (admin)",
    responses=error_responses(401, 403, 422, 503),
)
async def put_policy(
    policy_id: PolicyPath, body: PolicyUpdate, runtime: RuntimeDep, _caller: Admin
) -> PolicyState:
    """Takes effect at once (`on` activates, `off` deactivates, `auto` follows the trigger)."""
    policy = runtime.policies.items[policy_id]
    policy.mode = Mode(body.mode)
    if body.trigger is not None:
        policy.trigger = Trigger(body.trigger)
    runtime.apply_policies()
    return _state(policy)
