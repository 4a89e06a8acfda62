"""Request metrics and the Prometheus text exposition behind ``GET /metrics``.

Why hand-written: the service needs a handful of counters and one histogram;
exposition format 0.0.4 is a few lines, and avoiding a dependency keeps the
container image small. Counting happens in a pure ASGI middleware (not
``BaseHTTPMiddleware``, which costs a task per request) keyed by the route
*template*, so ``/agents/{agent_id}`` is one series, not one per id.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)
WINDOW_SAMPLES = 5000


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


class Histogram:
    """Cumulative-bucket latency histogram for one label set."""

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        index = bisect.bisect_left(BUCKETS, seconds)
        if index < len(BUCKETS):
            self.counts[index] += 1
        self.total += 1
        self.sum += seconds


class Telemetry:
    """Every figure the service exports; mutated only from the event loop."""

    def __init__(self) -> None:
        self.started_at = time.time()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency: dict[tuple[str, str], Histogram] = {}
        self.recent: deque[float] = deque(maxlen=WINDOW_SAMPLES)
        self.events: Counter[tuple[str, str]] = Counter()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        self.latency.setdefault((method, route), Histogram()).observe(seconds)
        self.recent.append(seconds)

    def count(self, name: str, label: str = "") -> None:
        """Count a named event (stale responses, reuse detections, queued writes…)."""
        self.events[(name, label)] += 1

    def percentile(self, fraction: float) -> float | None:
        """Latency percentile over the last WINDOW_SAMPLES requests, in seconds."""
        if not self.recent:
            return None
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def render(self, gauges: Iterable[tuple[str, str, dict[str, str], float]]) -> str:
        """Prometheus text format 0.0.4; ``gauges`` are (name, help, labels, value) read at scrape time."""
        lines: list[str] = [
            "# HELP prism_http_requests_total HTTP requests by method, route template and status.",
            "# TYPE prism_http_requests_total counter",
        ]
        for (method, route, status), value in sorted(self.requests.items()):
            labels = _labels(method=method, route=route, status=str(status))
            lines.append(f"prism_http_requests_total{labels} {value}")
        lines += [
            "# HELP prism_http_request_duration_seconds HTTP request latency.",
            "# TYPE prism_http_request_duration_seconds histogram",
        ]
        for (method, route), histogram in sorted(self.latency.items()):
            cumulative = 0
            for bound, count in zip(BUCKETS, histogram.counts, strict=True):
                cumulative += count
                labels = _labels(method=method, route=route, le=repr(bound))
                lines.append(f"prism_http_request_duration_seconds_bucket{labels} {cumulative}")
            labels = _labels(method=method, route=route, le="+Inf")
            lines.append(f"prism_http_request_duration_seconds_bucket{labels} {histogram.total}")
            base = _labels(method=method, route=route)
            lines.append(f"prism_http_request_duration_seconds_sum{base} {histogram.sum:.6f}")
            lines.append(f"prism_http_request_duration_seconds_count{base} {histogram.total}")
        lines += [
            "# HELP prism_events_total Resilience events (stale responses, queued writes, token reuse…).",
            "# TYPE prism_events_total counter",
        ]
        for (name, label), value in sorted(self.events.items()):
            lines.append(f"prism_events_total{_labels(event=name, label=label)} {value}")
        seen: set[str] = set()
        for gauge, help_text, gauge_labels, reading in gauges:
            if gauge not in seen:
                lines += [f"# HELP {gauge} {help_text}", f"# TYPE {gauge} gauge"]
                seen.add(gauge)
            lines.append(f"{gauge}{_labels(**gauge_labels)} {reading:g}")
        return "\n".join(lines) + "\n"


class TelemetryMiddleware:
    """Pure ASGI middleware timing every HTTP request and counting its status."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.telemetry.observe(scope["method"], template, status, time.perf_counter() - started)
