"""The faults a WebSocket frame proxy applies to server→client frames, as closed pydantic models.

One model per ``kind``, shared by both ends: the `websocket` injector takes
them as scenario parameters (so the scenario JSON Schema documents every
field), and the proxy validates the body of ``POST /faults`` with the same
models. Durations are written as in the rest of a scenario (``200ms``,
``1.5s``) or as plain seconds, and are sent to the proxy as seconds.

======== ============================================================================
kind     what happens to server→client frames
======== ============================================================================
drop     a frame is dropped with probability ``probability``, or every ``every``-th
delay    each frame is held ``latency`` (plus up to ``jitter`` more); order is kept
duplicate a frame is sent ``copies`` extra times (probability or every N-th)
reorder  ``window`` frames are held and released reversed or shuffled; a partial
         window is released the same way after ``flush``
cut      the connection is closed after ``after_frames`` frames or ``after`` a time,
         with close code ``code`` (1006: TCP dropped without a close frame)
silence  nothing is forwarded either way and pings are not answered; frames are
         dropped, not queued; the connection stays open
======== ============================================================================

With a ``seed``, every connection draws the same sequence of random decisions
(its k-th frame meets the k-th draw of ``random.Random(seed)``), so a test
knows in advance which frames are hit. "Every N-th" counts the frames of each
connection from the moment the fault reaches it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from chaosgate.scenario.quantities import DURATION_PATTERN, format_duration, parse_duration

MAX_WINDOW = 1000
"""Reorder windows are capped: a proxy holds at most this many frames per connection and fault."""
MAX_COPIES = 10
MAX_DELAY = 600.0
"""Seconds: a longer hold is an outage, which `silence` or `cut` models better."""
ABRUPT_CLOSE = 1006
"""Not a code on the wire: the proxy drops the TCP connection without a close frame."""

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({
        "anyOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"type": "number", "minimum": 0}],
        "description": "A duration: `200ms`, `1.5s`, or seconds as a number.",
    }),
]


class _Fault(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def summary(self) -> str:  # pragma: no cover - every kind overrides it
        raise NotImplementedError


class _Chance(_Fault):
    """Shared by the faults that hit some frames: a probability or every N-th frame."""

    probability: float | None = Field(
        default=None, gt=0, le=1, description="Hit each frame with this probability (0 < p ≤ 1)."
    )
    every: int | None = Field(default=None, ge=1, description="Hit every N-th frame of each connection.")
    seed: int | None = Field(default=None, description="Seed for `probability`: the same frames every run.")

    @model_validator(mode="after")
    def _one_rule(self) -> _Chance:
        if (self.probability is None) == (self.every is None):
            raise ValueError("give exactly one of `probability` (0 < p ≤ 1) or `every` (N ≥ 1)")
        return self

    def which(self) -> str:
        if self.every is None:
            return f"frames with probability {self.probability:g}"
        if self.every == 1:
            return "every frame"
        teen = 10 <= self.every % 100 <= 20
        suffix = "th" if teen else {1: "st", 2: "nd", 3: "rd"}.get(self.every % 10, "th")
        return f"every {self.every}{suffix} frame"


class FrameDrop(_Chance):
    """Drop server→client frames: with a probability, or every N-th frame."""

    kind: Literal["drop"] = Field(description="Drop frames.")

    def summary(self) -> str:
        return f"drop {self.which()}"


class FrameDuplicate(_Chance):
    """Send some server→client frames more than once, right after the original."""

    kind: Literal["duplicate"] = Field(description="Duplicate frames.")
    copies: int = Field(default=1, ge=1, le=MAX_COPIES, description="Extra copies of each hit frame.")

    def summary(self) -> str:
        return f"duplicate {self.which()} ×{self.copies + 1}"


class FrameDelay(_Fault):
    """Hold every server→client frame before sending it; frames keep their order."""

    kind: Literal["delay"] = Field(description="Delay frames.")
    latency: Duration = Field(le=MAX_DELAY, description="How long each frame is held, e.g. `200ms`.")
    jitter: Duration = Field(
        default=0.0, le=MAX_DELAY, description="Up to this much more, uniformly at random (never less)."
    )
    seed: int | None = Field(default=None, description="Seed for the jitter.")

    def summary(self) -> str:
        jitter = f" (+0..{format_duration(self.jitter)})" if self.jitter else ""
        return f"delay frames {format_duration(self.latency)}{jitter}"


class FrameReorder(_Fault):
    """Hold server→client frames in windows and release each window out of order; none is lost."""

    kind: Literal["reorder"] = Field(description="Reorder frames.")
    window: int = Field(ge=2, le=MAX_WINDOW, description="Frames per window.")
    order: Literal["reverse", "shuffle"] = Field(
        default="reverse", description="`reverse`: last in, first out; `shuffle`: a random permutation."
    )
    flush: Duration = Field(
        default=1.0, gt=0, le=MAX_DELAY,
        description="A window not filled within this time is released (permuted) anyway.",
    )
    seed: int | None = Field(default=None, description="Seed for `shuffle`.")

    def summary(self) -> str:
        flush = format_duration(self.flush)
        return f"reorder frames in windows of {self.window} ({self.order}, flushed after {flush})"


class ConnectionCut(_Fault):
    """Close each connection after N frames or after a time (from the connection's start or the fault's)."""

    kind: Literal["cut"] = Field(description="Cut connections.")
    after_frames: int | None = Field(
        default=None, ge=0, description="Close right after this many server→client frames."
    )
    after: Duration | None = Field(default=None, le=86400, description="Close after this time, e.g. `10s`.")
    code: int = Field(
        default=ABRUPT_CLOSE,
        description=(
            "Close code the client sees. 1006 (default): the TCP connection is dropped without a close "
            "frame, as when a network fails. Otherwise a close frame with this code, e.g. 1011 (server "
            "error), 1001 (going away), 1012 (service restart), 4000-4999 (application)."
        ),
    )
    reason: str = Field(default="", max_length=120, description="Close reason sent with `code`.")

    @model_validator(mode="after")
    def _valid(self) -> ConnectionCut:
        if (self.after_frames is None) == (self.after is None):
            raise ValueError("give exactly one of `after_frames` (a count) or `after` (a duration)")
        sendable = 1000 <= self.code <= 1003 or 1007 <= self.code <= 1014 or 3000 <= self.code <= 4999
        if not (sendable or self.code == ABRUPT_CLOSE):
            raise ValueError(f"close code {self.code} cannot be sent: use 1006 (abrupt), 1000-1003, "
                             "1007-1014 or 3000-4999")
        if self.reason and self.code == ABRUPT_CLOSE:
            raise ValueError("an abrupt close (1006) sends no frame, so it cannot carry a `reason`")
        return self

    def summary(self) -> str:
        when = f"{self.after_frames} frames" if self.after is None else format_duration(self.after)
        how = "dropping TCP (1006)" if self.code == ABRUPT_CLOSE else f"with close code {self.code}"
        return f"cut connections after {when}, {how}"


class ConnectionSilence(_Fault):
    """Keep connections open but forward nothing either way and answer no pings (frames are dropped)."""

    kind: Literal["silence"] = Field(description="Silence connections.")

    def summary(self) -> str:
        return "silence connections (open, nothing forwarded, no pongs)"


FaultSpec = Annotated[
    FrameDrop | FrameDelay | FrameDuplicate | FrameReorder | ConnectionCut | ConnectionSilence,
    Field(discriminator="kind"),
]
"""Any fault, chosen by its ``kind``."""

FAULT_ADAPTER: TypeAdapter[FaultSpec] = TypeAdapter(FaultSpec)

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
