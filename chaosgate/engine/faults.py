"""The fault schedule and the revert guarantee (R2.2).

Each inject runs in a worker thread (a `docker stop` may take seconds and
must not stall the probes). The moment an inject returns, its injector is
pushed on the active stack — from inside the thread — so no successful
inject can be lost by a cancellation arriving at the wrong time.
:meth:`FaultController.revert_all` is synchronous and runs in the runner's
``finally``: it waits for injects still in flight, then reverts everything
on the stack, last in first out, whatever ended the run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from dataclasses import dataclass

from chaosgate.engine.events import Event, FaultInjected, FaultReverted
from chaosgate.engine.http import Clock
from chaosgate.engine.plan import Plan, PlannedFault
from chaosgate.exceptions import ChaosgateError, InjectorError
from chaosgate.injector import InjectionContext, Injector, InjectorParams
from chaosgate.plugins import injector_types

INJECT_WAIT = 60.0


@dataclass
class FaultRecord:
    """What actually happened to a planned fault, on the scenario clock."""

    planned: PlannedFault
    inject_started: float | None = None
    """When the inject call began: the fault may take effect any moment from here."""
    injected_at: float | None = None
    """When the inject call returned: the fault is certainly in effect."""
    revert_started: float | None = None
    """When the revert call began: from here a request may already see the fault gone."""
    reverted_at: float | None = None
    error: str | None = None
    revert_error: str | None = None


class FaultController:
    """Injects and reverts the faults of one plan; reverts everything on the way out."""

    def __init__(
        self, plan: Plan, context: InjectionContext, clock: Clock, emit: Callable[[Event], None]
    ) -> None:
        self.plan = plan
        self.context = context
        self.clock = clock
        self.emit = emit
        self.records = {fault.name: FaultRecord(fault) for fault in plan.faults}
        self._registry = injector_types()
        self._lock = threading.Lock()
        self._active: list[tuple[str, Injector[InjectorParams]]] = []
        self._pending: set[concurrent.futures.Future[None]] = set()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="fault")
        self.failure: ChaosgateError | None = None

    def _inject_now(self, fault: PlannedFault) -> None:
        injector = self._registry[fault.injector](fault.params, self.context)
        self.records[fault.name].inject_started = self.clock.now()
        injector.inject()
        with self._lock:
            self._active.append((fault.name, injector))
        record = self.records[fault.name]
        record.injected_at = self.clock.now()
        self.emit(FaultInjected(self.plan.scenario.id, fault.name, injector.describe(), record.injected_at))

    def _revert_now(self, name: str) -> None:
        with self._lock:
            entries = [entry for entry in self._active if entry[0] == name]
            self._active = [entry for entry in self._active if entry[0] != name]
        for _, injector in reversed(entries):
            self._revert_one(name, injector)

    def _revert_one(self, name: str, injector: Injector[InjectorParams]) -> None:
        record = self.records[name]
        if record.revert_started is None:
            record.revert_started = self.clock.now()
        error = None
        try:
            injector.revert()
        except Exception as exc:  # noqa: BLE001 - every revert is attempted; failures are reported
            error = f"{type(exc).__name__}: {exc}"
            record.revert_error = error
        record.reverted_at = self.clock.now()
        self.emit(FaultReverted(self.plan.scenario.id, name, record.reverted_at, error))

    async def _in_thread(self, func: Callable[[], None]) -> None:
        future = self._executor.submit(func)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        await asyncio.wrap_future(future)

    async def _one(self, fault: PlannedFault) -> None:
        await asyncio.sleep(max(fault.at - self.clock.now(), 0))
        try:
            await self._in_thread(lambda: self._inject_now(fault))
        except ChaosgateError as error:
            self.records[fault.name].error = error.render()
            self.failure = self.failure or error
            raise
        except Exception as error:
            self.records[fault.name].error = f"{type(error).__name__}: {error}"
            wrapped = InjectorError(f"{fault.name}: {fault.injector} failed to inject: {error}")
            self.failure = self.failure or wrapped
            raise wrapped from error
        # `for` is how long the fault is in effect, counted from when the inject returned.
        injected_at = self.records[fault.name].injected_at or fault.at
        await asyncio.sleep(max(injected_at + fault.duration - self.clock.now(), 0))
        await self._in_thread(lambda: self._revert_now(fault.name))

    async def run(self) -> None:
        """Inject and revert every fault on schedule; the first injector failure ends the run."""
        if not self.plan.faults:
            return
        async with asyncio.TaskGroup() as group:
            for fault in self.plan.faults:
                group.create_task(self._one(fault))

    def revert_all(self) -> None:
        """Revert everything still injected, last in first out. Synchronous; never raises."""
        with self._lock:
            pending = list(self._pending)
        concurrent.futures.wait(pending, timeout=INJECT_WAIT)
        while True:
            with self._lock:
                if not self._active:
                    break
                name, injector = self._active.pop()
            self._revert_one(name, injector)
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def still_injected(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self._active]
