"""Agent bodies: registration, listing, configuration, heartbeats."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
CAPABILITY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,31}$"
VERSION_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]{1,20})?$"

Capability = Annotated[str, Field(pattern=CAPABILITY_PATTERN, description="Lower-case token, e.g. `gpu`.")]
AgentStatus = Literal["registered", "online", "busy", "degraded", "offline", "pending_sync"]
SyncState = Literal["synced", "pending_sync"]
Freshness = Literal["fresh", "stale"]

_STRICT = ConfigDict(extra="forbid", strict=True)


def _integral_number(value: object) -> object:
    """JSON Schema counts 30.0 as an integer; strict pydantic would not, so convert exact floats first."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_integral_number)]


class AgentConfig(BaseModel):
    """An agent's runtime configuration (replaced as a whole by PUT)."""

    model_config = _STRICT

    heartbeat_interval_seconds: JsonInt = Field(default=30, ge=5, le=3600)
    max_concurrent_tasks: JsonInt = Field(default=4, ge=1, le=256)
    task_timeout_seconds: JsonInt = Field(default=300, ge=1, le=86_400)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    tags: list[Capability] = Field(default_factory=list, max_length=16)


class AgentCreate(BaseModel):
    """Registration of a new agent."""

    model_config = _STRICT

    name: str = Field(pattern=NAME_PATTERN, description="1-64 characters: letters, digits, `.`, `_`, `-`.")
    capabilities: list[Capability] = Field(default_factory=list, max_length=32)
    version: str | None = Field(default=None, pattern=VERSION_PATTERN, description="Semantic version.")
    config: AgentConfig | None = None


class Agent(BaseModel):
    """A registered agent."""

    id: uuid.UUID
    name: str
    capabilities: list[str]
    version: str | None
    status: AgentStatus
    config: AgentConfig
    config_version: int
    created_at: datetime
    updated_at: datetime
    last_heartbeat_at: datetime | None
    sync_state: SyncState = Field(description="`pending_sync` while it waits in the offline queue.")
    pending_config: AgentConfig | None = Field(
        default=None, description="A configuration waiting for the agent to be idle (see PUT config, 202)."
    )


class AgentListMetrics(BaseModel):
    """Figures derived from the agents on the page."""

    by_status: dict[str, int]
    heartbeat_overdue: int = Field(description="Agents whose last heartbeat is over 3 intervals old.")
    oldest_heartbeat_age_seconds: float | None


class AgentList(BaseModel):
    """A page of agents, oldest first."""

    items: list[Agent]
    limit: int
    offset: int
    freshness: Freshness = Field(description="`stale` when served from the cache during a database fault.")
    cached_at: datetime | None = Field(description="When the stale copy was taken (null when fresh).")
    pending_sync: int = Field(description="Agents accepted into the offline queue, not yet in the database.")
    metrics: AgentListMetrics | None = Field(
        default=None,
        description="Derived figures for this page; null (206) when they could not be calculated.",
    )
    warnings: list[str] = Field(default_factory=list, description="Why some fields are missing (206).")


class AgentAccepted(BaseModel):
    """202: the agent was accepted durably and will be written when the database returns."""

    id: uuid.UUID
    status: Literal["pending_sync"]
    queue_depth: int
    eta_seconds: float
    message: str


class AgentConfigDocument(BaseModel):
    """An agent's configuration with its version."""

    agent_id: uuid.UUID
    config: AgentConfig
    config_version: int
    updated_at: datetime
    pending_config: AgentConfig | None = Field(description="Waiting to be applied when the agent is idle.")


class ConfigQueued(BaseModel):
    """202: the agent is busy; the configuration is stored and applied as soon as it is idle."""

    agent_id: uuid.UUID
    status: Literal["pending_application"]
    pending_config: AgentConfig
    queued_at: datetime
    message: str


class Heartbeat(BaseModel):
    """What an agent reports periodically."""

    model_config = _STRICT

    status: Literal["online", "busy", "degraded"]
    cpu_percent: float = Field(ge=0, le=100, allow_inf_nan=False)
    memory_percent: float = Field(ge=0, le=100, allow_inf_nan=False)
    active_tasks: JsonInt = Field(default=0, ge=0, le=10_000)


class HeartbeatAck(BaseModel):
    """200: the heartbeat was recorded."""

    agent_id: uuid.UUID
    received_at: datetime
    status: AgentStatus
    next_heartbeat_due_seconds: int


class HeartbeatQueued(BaseModel):
    """202: the heartbeat was queued durably while the database is unavailable."""

    agent_id: uuid.UUID
    received_at: datetime
    status: Literal["pending_sync"]
    queue_depth: int
