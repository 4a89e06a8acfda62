"""The common error envelope: one shape for every non-2xx response.

Why one shape: a client (and a chaos scenario) must be able to tell *what
kind* of failure happened, whether retrying helps, what still works and when
to come back, without parsing prose. Every error therefore carries a
category, an incident id to quote to operators (it is also logged), recovery
options with a success probability, the functionality matrix of the moment
and an ETA. Field-level problems (422) add ``details`` with a suggested fix.

Routes declare their error responses with :func:`error_responses`, so the
OpenAPI schema lists every status code, header and body they can return.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class ErrorCategory(StrEnum):
    """What kind of failure: drives a client's retry and fallback decisions."""

    NETWORK = "network"
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    AUTHENTICATION = "authentication"
    AUTHORIZATION = "authorization"
    DATA_INTEGRITY = "data_integrity"
    EXTERNAL_DEPENDENCY = "external_dependency"
    SYSTEM_OVERLOAD = "system_overload"
    VALIDATION = "validation"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INTERNAL = "internal"


class RecoveryOption(BaseModel):
    """Something the client can do, and how likely it is to work."""

    model_config = ConfigDict(extra="forbid")

    action: str = Field(description="Machine-readable action, e.g. `retry_after_delay`.")
    description: str = Field(description="What to do, for a person.")
    success_probability: float = Field(ge=0.0, le=1.0)


class FunctionalityMatrix(BaseModel):
    """Which capabilities of the service work right now."""

    model_config = ConfigDict(extra="forbid")

    available: list[str]
    limited: list[str]
    unavailable: list[str]


class FieldError(BaseModel):
    """One invalid input field, with a fix."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="Dotted path of the field, e.g. `body.max_concurrent_tasks`.")
    type: str = Field(description="Error type, e.g. `less_than_equal`, `missing`, `extra_forbidden`.")
    message: str
    suggestion: str = Field(description="How to fix the value.")
    suggested_value: JsonValue = Field(default=None, description="A value that would be accepted, if known.")


class ErrorBody(BaseModel):
    """The inside of the envelope."""

    model_config = ConfigDict(extra="forbid")

    category: ErrorCategory
    code: str = Field(description="Stable machine-readable error code, e.g. `agent_not_found`.")
    incident_id: str = Field(description="Quote it to operators; it is in the service log.")
    message: str
    recovery_options: list[RecoveryOption]
    functionality: FunctionalityMatrix
    eta_seconds: float | None = Field(description="Expected seconds until the condition clears, if known.")
    occurred_at: datetime
    details: list[FieldError] = Field(default_factory=list)
    reference: str | None = Field(
        default=None, description="Id of something the request still created or queued (e.g. a queued agent)."
    )


class ErrorEnvelope(BaseModel):
    """Body of every non-2xx response."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorBody


def new_incident_id() -> str:
    """A short unique id that sorts by time: ``inc-<yyyymmddHHMMSS>-<12 hex>``."""
    return f"inc-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"


RETRY = RecoveryOption(action="retry", description="Retry the request unchanged.", success_probability=0.5)


class ApiError(Exception):
    """Raise anywhere in a request to answer with the error envelope."""

    def __init__(
        self,
        status_code: int,
        category: ErrorCategory,
        code: str,
        message: str,
        *,
        recovery_options: list[RecoveryOption] | None = None,
        eta_seconds: float | None = None,
        headers: dict[str, str] | None = None,
        details: list[FieldError] | None = None,
        incident_id: str | None = None,
        reference: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.category = category
        self.code = code
        self.message = message
        self.recovery_options = recovery_options or []
        self.eta_seconds = eta_seconds
        self.headers = headers or {}
        self.details = details or []
        self.incident_id = incident_id
        self.reference = reference


_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request.",
    401: "Missing, invalid, expired or revoked credentials.",
    403: "Authenticated, but the role may not do this.",
    404: "No such resource.",
    409: "Conflicts with the current state of the resource.",
    422: "Invalid input: per-field errors with suggested fixes in `error.details`.",
    424: "A dependency failed, so nothing was stored; `recovery_options` say how to resolve it.",
    500: "Unexpected failure; the incident id is in the service log.",
    503: "A dependency is unavailable or the service is shedding load; see `Retry-After`.",
}

_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
        "required": True,
    }
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The authentication scheme to use (`Bearer`).",
            "schema": {"type": "string"},
            "required": True,
        }
    },
    424: _RETRY_AFTER,
    503: _RETRY_AFTER,
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error codes (500 is always added)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for code in sorted({*status_codes, 500}):
        entry: dict[str, Any] = {"model": ErrorEnvelope, "description": _DESCRIPTIONS[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        responses[code] = entry
    return responses
