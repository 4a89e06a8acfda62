"""One connection's chain of fault stages, kept in step with the proxy's registry.

A server→client frame enters the first stage; each stage passes on zero or
more items (frames with the time before which they must not be sent, or a
close) to the next, in the order the faults were added; what leaves the last
stage goes to the connection's outbox (see :mod:`injectors.websocket.relay`).
When a fault is removed its stage hands on what it held; when one is added,
a new stage joins the end of the chain, for open connections as for new ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from injectors.websocket.registry import Close, Data, FaultRegistry, Frame, Item
from injectors.websocket.stages import STAGES, ReorderStage, SilenceStage, Stage


class Pipeline:
    """The stages of one connection, kept in step with the registry.

    `emit` receives what leaves the last stage; `cut` is called for a cut that
    must happen now (a time-based one), ahead of anything queued.
    """

    def __init__(
        self,
        registry: FaultRegistry,
        emit: Callable[[list[Item]], None],
        cut: Callable[[Close], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.registry = registry
        self.emit = emit
        self.cut = cut
        self.loop = loop
        self.opened = time.monotonic()
        self.stages: list[Stage] = []
        self.closed = False
        self._unlisten = registry.listen(self.sync)
        self.sync(notify=False)

    def now(self) -> float:
        return self.loop.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self.loop.call_later(delay, callback)

    @property
    def silenced(self) -> bool:
        return any(isinstance(stage, SilenceStage) for stage in self.stages)

    def count_silenced(self, n: int = 1) -> None:
        """Frames that would have passed (the other direction, or queued before silence began)."""
        for stage in self.stages:
            if isinstance(stage, SilenceStage):
                stage.count("silenced", n)
                return

    def sync(self, *, notify: bool = True) -> None:
        """Drop the stages of removed faults (handing on what they held), add stages for new ones."""
        if self.closed:
            return
        active = {id(fault) for fault in self.registry.faults()}
        index = 0
        while index < len(self.stages):
            stage = self.stages[index]
            if id(stage.fault) in active:
                index += 1
                continue
            released = stage.release()
            stage.close()
            del self.stages[index]
            self._run_from(index, released)
        known = {id(stage.fault) for stage in self.stages}
        for fault in self.registry.faults():
            if id(fault) not in known:
                self.stages.append(STAGES[type(fault.spec)](fault, self))
        if notify:
            self.emit([])  # wake the writer: silence may have begun or ended

    def feed(self, data: Data) -> None:
        self._run_from(0, [Frame(data, self.now())])

    def continue_after(self, stage: Stage, items: list[Item]) -> None:
        if self.closed or stage not in self.stages:
            return
        self._run_from(self.stages.index(stage) + 1, items)

    def _run_from(self, index: int, items: list[Item]) -> None:
        for stage in self.stages[index:]:
            if not items:
                return
            out: list[Item] = []
            for item in items:
                out.extend(stage.process(item) if isinstance(item, Frame) else [item])
            items = out
        if items:
            self.emit(items)

    def cut_now(self, close: Close) -> None:
        if not self.closed:
            self.cut(close)

    def drain(self) -> None:
        """The upstream ended: let every reorder window go (permuted) before the close."""
        for stage in list(self.stages):
            if isinstance(stage, ReorderStage) and stage.held:
                self.continue_after(stage, stage.permute_held())

    def close(self) -> None:
        self.closed = True
        self._unlisten()
        for stage in self.stages:
            stage.close()
        self.stages.clear()
