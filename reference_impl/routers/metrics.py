"""``GET /metrics`` (root, not under /api/v1): Prometheus text exposition."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from reference_impl.runtime import Runtime, get_runtime

router = APIRouter(tags=["observability"])

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format 0.0.4.",
        },
        500: {
            "description": "Unexpected failure; the incident id is in the service log.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
        },
    },
)
async def metrics(runtime: Annotated[Runtime, Depends(get_runtime)]) -> PlainTextResponse:
    """Request counts and latency histograms per route, breaker states, queue depth, resilience events."""
    return PlainTextResponse(runtime.telemetry.render(runtime.gauges()), media_type=CONTENT_TYPE)
