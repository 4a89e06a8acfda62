"""Exception handlers that turn every failure into the error envelope.

FastAPI answers 404, 405 and 422 with its own shapes and Starlette answers
unhandled exceptions with plain text; all of them are replaced here, so a
client never meets a second error format. Validation errors become per-field
``details`` with a concrete suggested fix (and a suggested value when one is
obvious, e.g. the nearest bound or the closest known field name).
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import (
    ApiError,
    ErrorBody,
    ErrorCategory,
    ErrorEnvelope,
    FieldError,
    FunctionalityMatrix,
    RecoveryOption,
    new_incident_id,
)

log = logging.getLogger("prism.errors")

_HTTP_CATEGORIES = {
    401: (ErrorCategory.AUTHENTICATION, "unauthenticated"),
    403: (ErrorCategory.AUTHORIZATION, "forbidden"),
    404: (ErrorCategory.NOT_FOUND, "not_found"),
    405: (ErrorCategory.VALIDATION, "method_not_allowed"),
    409: (ErrorCategory.CONFLICT, "conflict"),
    413: (ErrorCategory.RESOURCE_EXHAUSTION, "payload_too_large"),
    415: (ErrorCategory.VALIDATION, "unsupported_media_type"),
    429: (ErrorCategory.SYSTEM_OVERLOAD, "rate_limited"),
}


def _functionality(request: Request) -> FunctionalityMatrix:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return FunctionalityMatrix(available=[], limited=[], unavailable=[])
    matrix: FunctionalityMatrix = runtime.functionality()
    return matrix


def envelope_response(request: Request, error: ApiError) -> JSONResponse:
    """Render an :class:`ApiError` as the envelope, logging its incident id."""
    incident_id = error.incident_id or new_incident_id()
    body = ErrorEnvelope(
        error=ErrorBody(
            category=error.category,
            code=error.code,
            incident_id=incident_id,
            message=error.message,
            recovery_options=error.recovery_options,
            functionality=_functionality(request),
            eta_seconds=error.eta_seconds,
            occurred_at=datetime.now(UTC),
            details=error.details,
            reference=error.reference,
        )
    )
    level = logging.ERROR if error.status_code >= 500 else logging.INFO
    log.log(
        level,
        "%s %s -> %d %s (%s): %s",
        request.method,
        request.url.path,
        error.status_code,
        error.code,
        incident_id,
        error.message,
    )
    headers = dict(error.headers)
    if error.status_code == 503 and "Retry-After" not in headers:
        headers["Retry-After"] = str(max(1, math.ceil(error.eta_seconds or 1)))
    return JSONResponse(body.model_dump(mode="json"), status_code=error.status_code, headers=headers)


def _model_fields_at(request: Request, loc: tuple[Any, ...]) -> list[str]:
    """Known field names of the body model at ``loc`` (for 'did you mean' on unknown fields)."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    model: Any = getattr(getattr(body_field, "field_info", None), "annotation", None)
    for part in loc[1:-1]:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = model.model_fields[part].annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


_FIXES = {
    "missing": "add the required field `{name}`",
    "string_too_short": "use at least {min_length} characters",
    "too_long": "send at most {max_length} items",
    "too_short": "send at least {min_length} items",
    "string_pattern_mismatch": "match the pattern {pattern}",
    "literal_error": "use one of {expected}",
    "enum": "use one of {expected}",
    "float_type": "send a finite JSON number",
    "float_parsing": "send a finite JSON number",
    "finite_number": "send a finite JSON number",
    "string_type": "send a JSON string",
    "bool_type": "send true or false",
    "list_type": "send a JSON array",
    "uuid_parsing": "use a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "uuid_type": "use a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "json_invalid": "send a valid JSON document with Content-Type: application/json",
    "model_attributes_type": "send a JSON object",
    "dict_type": "send a JSON object",
    "model_type": "send a JSON object",
}
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}
_INTEGER_KINDS = {"int_type", "int_parsing", "int_from_float"}
_ASCII_INTEGER = re.compile(r"-?[0-9]{1,18}")


def _suggest(request: Request, error: dict[str, Any]) -> tuple[str, Any]:
    """A fix, and a value that would be accepted when one is obvious."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    loc = tuple(error.get("loc") or ())
    name = str(loc[-1]) if loc else "value"
    given = error.get("input")
    if kind in _BOUNDS:
        operator, key = _BOUNDS[kind]
        return f"use a value {operator} {ctx.get(key)}", ctx.get(key)
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(name, _model_fields_at(request, loc), n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"remove the unknown field `{name}`{hint}", close[0] if close else None
    if kind == "string_too_long":
        limit = int(ctx.get("max_length", 0))
        return f"shorten to at most {limit} characters", given[:limit] if isinstance(given, str) else None
    if kind in _INTEGER_KINDS:
        if loc[:1] == ("body",) and isinstance(given, str) and _ASCII_INTEGER.fullmatch(given.strip()):
            return "send a JSON integer, not a string", int(given)
        return "use a whole number", None
    template = _FIXES.get(kind, "fix the value: {msg}")
    values = defaultdict(str, {**ctx, "name": name, "msg": error.get("msg", "invalid")})
    return template.format_map(values), None


def validation_details(request: Request, errors: list[dict[str, Any]]) -> list[FieldError]:
    details = []
    for error in errors[:50]:
        try:
            suggestion, value = _suggest(request, error)
        except Exception:  # an error report must never fail itself
            log.exception("could not build a suggestion for %s", error.get("type"))
            suggestion, value = f"fix the value: {error.get('msg', 'invalid')}", None
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        details.append(
            FieldError(
                field=".".join(str(part) for part in error.get("loc") or ()) or "body",
                type=str(error.get("type", "invalid")),
                message=str(error.get("msg", "invalid value")),
                suggestion=suggestion,
                suggested_value=value,
            )
        )
    return details


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return envelope_response(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(request, list(exc.errors()))
    fields = ", ".join(detail.field for detail in details[:5])
    return envelope_response(
        request,
        ApiError(
            422,
            ErrorCategory.VALIDATION,
            "invalid_request",
            f"invalid input: {fields}",
            recovery_options=[
                RecoveryOption(
                    action="fix_input",
                    success_probability=0.95,
                    description="Apply the suggested fixes in `details` and resend.",
                )
            ],
            details=details,
        ),
    )


def _allowed_methods(request: Request) -> str:
    """The documented methods of the path, from the OpenAPI schema (Starlette names only the first route)."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(request.app.state, "allow_table", None)
    if table is None:
        table = []
        for template, item in request.app.openapi().get("paths", {}).items():
            source = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
            table.append((re.compile(f"^{source}$"), {method.upper() for method in item}))
        request.app.state.allow_table = table
    methods: set[str] = set()
    for pattern, documented in table:
        if pattern.match(request.url.path):
            methods |= documented
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 400:
        # Starlette's "error parsing the body" (undecodable bytes): a validation problem like any other.
        return await _validation_error(
            request, RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": message}])
        )
    category, code = _HTTP_CATEGORIES.get(exc.status_code, (ErrorCategory.VALIDATION, "bad_request"))
    if exc.status_code >= 500:
        category, code = ErrorCategory.INTERNAL, "server_error"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route or resource at {request.url.path}"
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        message = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
    return envelope_response(request, ApiError(exc.status_code, category, code, message, headers=headers))


async def _dependency_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DependencyUnavailable)
    category = ErrorCategory.NETWORK if exc.timed_out else ErrorCategory.EXTERNAL_DEPENDENCY
    return envelope_response(
        request,
        ApiError(
            503,
            category,
            f"{exc.dependency}_unavailable",
            f"{exc.dependency} is unavailable ({exc.reason}); this operation needs it",
            recovery_options=[
                RecoveryOption(
                    action="retry_after_delay",
                    success_probability=0.8,
                    description="Retry after the Retry-After delay; the breaker probes for recovery.",
                ),
                RecoveryOption(
                    action="use_degraded_endpoints",
                    success_probability=0.6,
                    description="Reads and agent registration keep working in degraded mode.",
                ),
            ],
            eta_seconds=round(exc.retry_after, 3),
        ),
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return envelope_response(
        request,
        ApiError(
            500,
            ErrorCategory.INTERNAL,
            "internal_error",
            "an unexpected error occurred; quote the incident id",
            recovery_options=[RETRY_LATER],
        ),
    )


RETRY_LATER = RecoveryOption(
    action="retry_later",
    success_probability=0.3,
    description="Retry later; operators have the incident in the log.",
)


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DependencyUnavailable, _dependency_error)
    app.add_exception_handler(Exception, _unhandled)
