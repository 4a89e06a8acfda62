"""One HTTP request of a scenario, made and turned into a :class:`Sample`.

Shared by setup steps, steady-state checks, probes and teardown so they
render ``${...}`` references, time requests and judge responses the same way.
Timestamps are taken on the scenario clock when the request *starts*, so a
request that hangs for five seconds is placed where the hang began.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from chaosgate.engine.matching import mismatch
from chaosgate.engine.samples import Exchange, Sample
from chaosgate.scenario.model import Request, ResponseCheck
from chaosgate.scenario.templating import TemplateError, render


@dataclass(frozen=True)
class Clock:
    """The scenario clock: seconds since `zero` on the system-wide monotonic clock.

    CLOCK_MONOTONIC is shared by every process on the machine, so the load
    generator's subprocess stamps its samples on the same clock.
    """

    zero: float

    def now(self) -> float:
        return time.monotonic() - self.zero


@dataclass(frozen=True)
class Outcome:
    """A finished request: the sample for evaluation, the parsed body for setup steps."""

    sample: Sample
    body: Any


def verify_tls(url: str) -> bool:
    """Certificates matter only for https; loading the CA bundle costs 0.1 s per client."""
    return url.startswith("https://")


def label(request: Request) -> str:
    return f"{request.method} {request.path}"


def _encode(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


async def perform(
    client: httpx.AsyncClient,
    request: Request,
    *,
    source: str,
    clock: Clock,
    context: Mapping[str, Any],
    check: ResponseCheck | None = None,
    expected_source: bool = False,
) -> Outcome:
    """Make `request`, judge it against `check`, and describe it as a sample."""
    try:
        path = str(render(request.path, context))
        headers = {k: str(v) for k, v in render(dict(request.headers), context).items()}
        body = render(request.json_body, context)
        params = render(dict(request.params), context)
    except TemplateError as error:
        raise TemplateError(f"{source} ({request.method} {request.path}): {error}") from None
    started = clock.now()
    begin = time.perf_counter()
    try:
        response = await client.request(
            request.method,
            path,
            headers=headers,
            params=params,
            json=body if body is not None else None,
            timeout=request.timeout,
        )
    except httpx.HTTPError as error:
        sample = Sample(
            source=source,
            request=label(request),
            t=started,
            latency=time.perf_counter() - begin,
            status=0,
            ok=False,
            error=f"{type(error).__name__}: {error}".strip().rstrip(":"),
            detail="no response",
        )
        return Outcome(sample, None)
    latency = time.perf_counter() - begin
    content = response.content
    reason = mismatch(check, response.status_code, response.headers, content, context) if check else None
    parsed: Any = None
    try:
        parsed = response.json() if content else None
    except ValueError:
        parsed = None
    exchange = None
    if reason is not None or response.status_code >= 500:  # keep what explains a failure or a 5xx
        exchange = Exchange.capture(
            method=request.method,
            url=str(response.request.url),
            request_headers=dict(response.request.headers),
            request_body=_encode(body),
            status=response.status_code,
            response_headers=dict(response.headers),
            response_body=content,
        )
    watched = check.headers if check is not None else {}
    observed = {name: response.headers.get(name) for name in watched} if watched else None
    sample = Sample(
        source=source,
        request=label(request),
        t=started,
        latency=latency,
        status=response.status_code,
        observed=observed,
        ok=reason is None,
        detail=reason,
        expected=expected_source and reason is None,
        exchange=exchange,
    )
    return Outcome(sample, parsed)
