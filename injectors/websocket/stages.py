"""What each kind of fault does to the server→client frames of one connection.

A stage is created per (fault, connection): it keeps that connection's state
for the fault (the N-th frame count, its random draws, a reorder window), so a
fault added while a connection is open starts counting from there. A stage
takes one frame and gives back zero or more items for the next stage; a
stage that holds frames (reorder) or acts on time (cut) uses
``loop.call_later`` handles, cancelled in :meth:`Stage.close`.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from injectors.websocket.faults import (
    ConnectionCut,
    ConnectionSilence,
    FrameDelay,
    FrameDrop,
    FrameDuplicate,
    FrameReorder,
)
from injectors.websocket.registry import ActiveFault, Close, Frame, Item

if TYPE_CHECKING:
    import asyncio

    from injectors.websocket.pipeline import Pipeline


class Stage:
    """What one fault does to the frames of one connection (pass-through by default)."""

    def __init__(self, fault: ActiveFault, pipeline: Pipeline) -> None:
        self.fault = fault
        self.pipeline = pipeline
        seed = getattr(fault.spec, "seed", None)
        self.rng = random.Random(seed) if seed is not None else random.Random()  # noqa: S311 - not crypto
        self.seen = 0
        fault.counters["connections"] += 1

    def count(self, what: str, n: int = 1) -> None:
        self.fault.counters[what] += n

    def process(self, frame: Frame) -> list[Item]:
        return [frame]

    def release(self) -> list[Item]:
        """The fault was removed: hand back whatever is held, in arrival order."""
        return []

    def close(self) -> None:
        """The connection or the fault is gone: cancel timers."""


class _ChanceStage(Stage):
    def hit(self) -> bool:
        spec = self.fault.spec
        assert isinstance(spec, FrameDrop | FrameDuplicate)
        if spec.every is not None:
            return self.seen % spec.every == 0
        return self.rng.random() < (spec.probability or 0.0)


class DropStage(_ChanceStage):
    def process(self, frame: Frame) -> list[Item]:
        self.seen += 1
        self.count("frames")
        if self.hit():
            self.count("dropped")
            return []
        return [frame]


class DuplicateStage(_ChanceStage):
    def process(self, frame: Frame) -> list[Item]:
        self.seen += 1
        self.count("frames")
        if not self.hit():
            return [frame]
        spec = self.fault.spec
        assert isinstance(spec, FrameDuplicate)
        self.count("duplicated", spec.copies)
        return [frame, *(Frame(frame.data, frame.due) for _ in range(spec.copies))]


class DelayStage(Stage):
    def process(self, frame: Frame) -> list[Item]:
        spec = self.fault.spec
        assert isinstance(spec, FrameDelay)
        self.count("frames")
        self.count("delayed")
        extra = self.rng.uniform(0.0, spec.jitter) if spec.jitter else 0.0
        frame.due = max(frame.due, self.pipeline.now()) + spec.latency + extra
        return [frame]


class ReorderStage(Stage):
    def __init__(self, fault: ActiveFault, pipeline: Pipeline) -> None:
        super().__init__(fault, pipeline)
        self.held: list[Frame] = []
        self.timer: asyncio.TimerHandle | None = None

    @property
    def spec(self) -> FrameReorder:
        assert isinstance(self.fault.spec, FrameReorder)
        return self.fault.spec

    def process(self, frame: Frame) -> list[Item]:
        self.count("frames")
        self.held.append(frame)
        if len(self.held) >= self.spec.window:
            return self.permute_held()
        if self.timer is None:
            self.timer = self.pipeline.call_later(self.spec.flush, self._flush)
        return []

    def permute_held(self) -> list[Item]:
        self.close()
        held, self.held = self.held, []
        order = list(range(len(held)))
        if self.spec.order == "reverse":
            order.reverse()
        else:
            self.rng.shuffle(order)
        self.count("windows")
        self.count("reordered", sum(1 for position, index in enumerate(order) if position != index))
        return [held[index] for index in order]

    def _flush(self) -> None:
        self.timer = None
        if self.held:
            self.count("flushed")
            self.pipeline.continue_after(self, self.permute_held())

    def release(self) -> list[Item]:
        self.close()
        held, self.held = self.held, []
        return list[Item](held)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class CutStage(Stage):
    def __init__(self, fault: ActiveFault, pipeline: Pipeline) -> None:
        super().__init__(fault, pipeline)
        self.done = False
        self.timer: asyncio.TimerHandle | None = None
        spec = self.spec
        if spec.after is not None:
            start = max(fault.created, pipeline.opened)
            remaining = max(0.0, start + spec.after - time.monotonic())
            self.timer = pipeline.call_later(remaining, self._time_up)
        elif spec.after_frames == 0:
            self._time_up()

    @property
    def spec(self) -> ConnectionCut:
        assert isinstance(self.fault.spec, ConnectionCut)
        return self.fault.spec

    def _time_up(self) -> None:
        self.timer = None
        if not self.done:
            self.done = True
            self.count("cut")
            self.pipeline.cut_now(Close(self.spec.code, self.spec.reason))

    def process(self, frame: Frame) -> list[Item]:
        if self.done:
            self.count("dropped")  # the connection is closing: nothing more goes out
            return []
        self.count("frames")
        self.seen += 1
        if self.spec.after_frames is not None and self.seen >= self.spec.after_frames:
            self.done = True
            self.count("cut")
            return [frame, Close(self.spec.code, self.spec.reason)]
        return [frame]

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class SilenceStage(Stage):
    def process(self, frame: Frame) -> list[Item]:
        self.count("frames")
        self.count("silenced")
        return []


STAGES: dict[type[Any], type[Stage]] = {
    FrameDrop: DropStage,
    FrameDuplicate: DuplicateStage,
    FrameDelay: DelayStage,
    FrameReorder: ReorderStage,
    ConnectionCut: CutStage,
    ConnectionSilence: SilenceStage,
}
