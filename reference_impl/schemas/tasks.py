"""Task bodies: submission, listing, progress."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from reference_impl.schemas.agents import CAPABILITY_PATTERN, Capability, JsonInt

TaskStatus = Literal["queued", "assigned", "running", "completed", "failed", "cancelled"]
PayloadKey = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]
PayloadText = Annotated[str, Field(max_length=1024, pattern=r"^[^\x00]*$")]
PayloadNumber = Annotated[float, Field(allow_inf_nan=False)]
PayloadValue = PayloadText | int | PayloadNumber | bool | None

_STRICT = ConfigDict(extra="forbid", strict=True)

# An agent id that is *absent* (not null) until assigned. Why: clients and schema-driven tools follow
# `agent_id` to /agents/{agent_id}; a null there is an invitation to request /agents/None.
AssignedAgent = Annotated[
    uuid.UUID | SkipJsonSchema[None],
    Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="The assigned agent; absent while the task is queued.",
    ),
]


class TaskCreate(BaseModel):
    """A unit of work for an agent with the required capabilities."""

    model_config = _STRICT

    type: str = Field(pattern=CAPABILITY_PATTERN, description="What to do, e.g. `scan` or `backup`.")
    payload: dict[PayloadKey, PayloadValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Flat parameters. Values containing PII (e-mail, phone, national id, card) are refused.",
        json_schema_extra={"additionalProperties": False},
    )
    required_capabilities: list[Capability] = Field(default_factory=list, max_length=16)
    priority: JsonInt = Field(default=3, ge=1, le=5, description="1 = most urgent.")
    steps_total: JsonInt = Field(default=10, ge=1, le=1000)


class Task(BaseModel):
    """A submitted task."""

    id: uuid.UUID
    type: str
    payload: dict[str, PayloadValue]
    required_capabilities: list[str]
    priority: int
    status: TaskStatus
    agent_id: AssignedAgent
    steps_total: int
    steps_done: int
    progress_percent: float | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class TaskQueued(BaseModel):
    """202: stored, but no capable agent is free; it is assigned as soon as one is."""

    task: Task
    reason: str
    required_capabilities: list[str]
    capable_agents: int = Field(description="Agents with the capabilities (all busy or none registered).")


class TaskList(BaseModel):
    items: list[Task]
    limit: int
    offset: int


class ProgressReport(BaseModel):
    """An agent reports how far it got."""

    model_config = _STRICT

    steps_done: JsonInt = Field(ge=0, le=1000)
    percent: PayloadNumber | None = Field(default=None, ge=0, le=100)
    status: Literal["running", "completed", "failed"] = "running"


class TaskProgress(BaseModel):
    """How far a task is, and whether that figure can be trusted."""

    task_id: uuid.UUID
    status: TaskStatus
    percent: float
    steps_done: int
    steps_total: int
    method: Literal["reported", "step_based"] = Field(
        description="`reported` by the agent, or `step_based` (steps done / steps total)."
    )
    updated_at: datetime | None
    agent_id: AssignedAgent
    recovery_status: Literal["ok", "not_started", "agent_unresponsive"]
    stale: bool = Field(description="True when the agent stopped reporting: this is the last known value.")
    warnings: list[str] = Field(description="Why the figure is simplified or stale, for a person.")
