"""Circuit breakers around the service's dependencies (PostgreSQL, Redis).

Why: without a breaker every request during an outage waits for the full
dependency timeout, so latency explodes and worker capacity is exhausted.
With one, after ``failure_threshold`` consecutive infrastructure failures the
breaker *opens* and callers fail fast (and take their fallback: cache, offline
queue, 503 envelope) for ``reset_seconds``; then it goes *half-open* and lets a
single trial call through. Success closes it, failure re-opens it. The state is
published at ``GET /api/v1/system/circuit-breakers`` and in ``/metrics``.

Only infrastructure failures (timeouts, refused or dropped connections) count;
a constraint violation is the caller's problem, not the dependency's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    """The three classic states; the values are what the API reports."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerOpen(Exception):
    """Raised instead of calling a dependency whose breaker is open."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"circuit breaker '{name}' is open; retry in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after


@dataclass
class BreakerSnapshot:
    """A consistent copy of a breaker's counters for reporting."""

    name: str
    state: BreakerState
    consecutive_failures: int
    failure_threshold: int
    reset_seconds: float
    total_failures: int
    total_successes: int
    rejected_calls: int
    times_opened: int
    last_failure: str | None
    last_failure_age_seconds: float | None
    retry_after_seconds: float


class CircuitBreaker:
    """A consecutive-failure circuit breaker; single event loop, so no locks are needed."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._now = clock
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._last_failure: str | None = None
        self._last_failure_at: float | None = None
        self.total_failures = 0
        self.total_successes = 0
        self.rejected_calls = 0
        self.times_opened = 0

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose reset time passed reads as half-open."""
        if self._state is BreakerState.OPEN and self._now() - self._opened_at >= self.reset_seconds:
            self._state = BreakerState.HALF_OPEN
            self._trial_in_flight = False
        return self._state

    def retry_after(self) -> float:
        """Seconds until a call may be tried again (0 when closed or half-open)."""
        if self.state is BreakerState.OPEN:
            return max(0.0, self.reset_seconds - (self._now() - self._opened_at))
        return 0.0

    def before_call(self) -> None:
        """Admit a call or raise :class:`BreakerOpen`; in half-open, admit exactly one trial."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return
        self.rejected_calls += 1
        raise BreakerOpen(self.name, max(self.retry_after(), 0.1))

    def record_success(self) -> None:
        """A call completed: the dependency works, so close the breaker."""
        self.total_successes += 1
        self._consecutive_failures = 0
        self._trial_in_flight = False
        self._state = BreakerState.CLOSED

    def record_failure(self, reason: str) -> None:
        """An infrastructure failure: count it, and open at the threshold or on a failed trial."""
        self.total_failures += 1
        self._consecutive_failures += 1
        self._last_failure = reason
        self._last_failure_at = self._now()
        was_trial = self._state is BreakerState.HALF_OPEN
        self._trial_in_flight = False
        if was_trial or self._consecutive_failures >= self.failure_threshold:
            if self._state is not BreakerState.OPEN:
                self.times_opened += 1
            self._state = BreakerState.OPEN
            self._opened_at = self._now()

    def release_trial(self) -> None:
        """A half-open trial ended without a verdict (e.g. cancelled): let another one try."""
        self._trial_in_flight = False

    def snapshot(self) -> BreakerSnapshot:
        """Counters for the API and the metrics endpoint."""
        age = None if self._last_failure_at is None else round(self._now() - self._last_failure_at, 3)
        return BreakerSnapshot(
            name=self.name,
            state=self.state,
            consecutive_failures=self._consecutive_failures,
            failure_threshold=self.failure_threshold,
            reset_seconds=self.reset_seconds,
            total_failures=self.total_failures,
            total_successes=self.total_successes,
            rejected_calls=self.rejected_calls,
            times_opened=self.times_opened,
            last_failure=self._last_failure,
            last_failure_age_seconds=age,
            retry_after_seconds=round(self.retry_after(), 3),
        )
