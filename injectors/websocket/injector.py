"""The `websocket` injector: message-level faults through a WebSocket frame proxy (R3.4).

A scenario names the proxy and one fault::

    - injector: websocket
      proxy: events                 # the target's `wsproxy:events` resource
      fault: {kind: drop, every: 3}
      at: 5s
      for: 10s

The proxy is resolved through ``context.resources["wsproxy:<name>"]`` to its
control URL (``http://127.0.0.1:PORT``); a name that is itself an
``http://`` URL is used as is. Every fault is created on the proxy under the
name ``chaosgate_<run_id>_<n>``, and before that a record of the proxy and the
name is written to the state directory (:mod:`injectors.websocket.state`).
``cleanup`` removes the faults those records name, and every ``chaosgate_``
fault on any proxy the context's resources name.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from chaosgate.exceptions import ComponentMissing, InjectorError
from chaosgate.injector import InjectionContext, Injector, InjectorParams
from injectors.websocket.client import WsProxyClient, WsProxyConflict
from injectors.websocket.faults import FaultSpec
from injectors.websocket.state import FaultLog, FaultRecord, undo_dir

PREFIX = "chaosgate_"
RESOURCE_PREFIX = "wsproxy:"
_NAME_ATTEMPTS = 10

_sequence = itertools.count(1)
_sequence_lock = threading.Lock()


def _next_number() -> int:
    with _sequence_lock:
        return next(_sequence)


def _safe_run_id(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", run_id).strip("-") or "run"


class WebSocketParams(InjectorParams):
    """One message-level fault on the server→client frames of a WebSocket proxy.

    Example: ``{injector: websocket, proxy: events, fault: {kind: reorder, window: 3}}``.
    """

    proxy: str = Field(
        min_length=1,
        description=(
            "The WebSocket proxy as the target names it (its control URL is the target's "
            "`wsproxy:<name>` resource), or the control URL itself, e.g. `http://127.0.0.1:8766`."
        ),
    )
    fault: FaultSpec = Field(
        description=(
            "What to do to the frames, chosen by `kind`: drop, delay, duplicate, reorder, cut or silence."
        )
    )


def control_url(resources: Mapping[str, str], proxy: str) -> str:
    """The control URL of the proxy a scenario calls `proxy`."""
    url = resources.get(f"{RESOURCE_PREFIX}{proxy}")
    if url:
        return str(url)
    if proxy.startswith(("http://", "https://")):
        return proxy
    known = sorted(key[len(RESOURCE_PREFIX):] for key in resources if key.startswith(RESOURCE_PREFIX))
    raise InjectorError(
        f"websocket: the target has no WebSocket proxy named {proxy!r} "
        f"(known: {', '.join(known) or 'none'}); it must provide the resource `{RESOURCE_PREFIX}{proxy}`"
    )


class WebSocketInjector(Injector[WebSocketParams]):
    """WebSocket frames: drop, delay, duplicate, reorder, cut the connection, or silence it."""

    name: ClassVar[str] = "websocket"
    Params: ClassVar[type[InjectorParams]] = WebSocketParams
    summary: ClassVar[str] = (
        "Message-level faults through a WebSocket proxy: drop, delay, duplicate or reorder server→client "
        "frames, cut connections after N frames or T seconds, or hold them open and silent."
    )

    @classmethod
    def fault_class(cls, params: Mapping[str, Any]) -> str:
        fault = params.get("fault") or {}
        return f"websocket: {fault.get('kind', '?') if isinstance(fault, Mapping) else fault}"

    def __init__(self, params: WebSocketParams, context: InjectionContext) -> None:
        super().__init__(params, context)
        self._fault_name: str | None = None
        self._record: Path | None = None
        self.fault_log = FaultLog(undo_dir(context.state_dir))
        self.final_counters: dict[str, int] = {}
        """What the fault did (frames seen, dropped…), as the proxy reported it on revert."""

    @property
    def control_url(self) -> str:
        return control_url(self.context.resources, self.params.proxy)

    @property
    def created_fault(self) -> str | None:
        """The fault's name on the proxy while it is injected."""
        return self._fault_name

    def inject(self) -> None:
        if self._fault_name is not None:
            raise InjectorError(f"{self.describe()}: already injected")
        spec = self.params.fault.model_dump(mode="json")
        base = f"{PREFIX}{_safe_run_id(self.context.run_id)}_"
        url = self.control_url
        with WsProxyClient(url) as client:
            for _ in range(_NAME_ATTEMPTS):
                name = f"{base}{_next_number()}"
                record = self.fault_log.write(FaultRecord(self.context.run_id, url, name))
                try:
                    client.add_fault(name, spec)
                except WsProxyConflict:
                    self.fault_log.remove(record)
                    continue
                except BaseException:
                    self.fault_log.remove(record)  # nothing was added (or the proxy is unreachable)
                    raise
                self._fault_name, self._record = name, record
                return
        raise InjectorError(f"websocket: no free fault name under {base}* on {url}")

    def revert(self) -> None:
        if self._fault_name is None:
            return
        with WsProxyClient(self.control_url) as client:
            removed = client.remove_fault(self._fault_name, missing_ok=True)
        self.final_counters = dict((removed or {}).get("counters") or {})
        if self._record is not None:
            self.fault_log.remove(self._record)
        self._fault_name = self._record = None

    @classmethod
    def cleanup(cls, context: InjectionContext) -> list[str]:
        """Remove the faults recorded in the state directory, and every ``chaosgate_`` fault of any run
        on every WebSocket proxy the context's resources name.

        A proxy that does not answer has nothing to clean: faults live in its memory.
        """
        done: list[str] = []
        log = FaultLog(undo_dir(context.state_dir))
        for path, record in log.records():
            try:
                with WsProxyClient(record.control_url) as client:
                    if client.remove_fault(record.fault, missing_ok=True) is not None:
                        done.append(f"websocket: removed fault {record.fault} from {record.control_url}")
            except ComponentMissing:
                done.append(f"websocket: {record.control_url} is gone, and fault {record.fault} with it")
            log.remove(path)
        urls = {str(url) for key, url in context.resources.items() if key.startswith(RESOURCE_PREFIX)}
        for url in sorted(urls):
            try:
                with WsProxyClient(url) as client:
                    done += cleanup_all(client)
            except ComponentMissing:
                continue
        return done

    def describe(self) -> str:
        return f"websocket: {self.params.fault.summary()} on proxy {self.params.proxy}"


def cleanup_all(client: WsProxyClient, run_id: str | None = None) -> list[str]:
    """Remove every ``chaosgate_`` fault (of one run, if `run_id` is given); one line per fault."""
    prefix = PREFIX if run_id is None else f"{PREFIX}{_safe_run_id(run_id)}_"
    done = []
    for fault in client.list_faults():
        name = str(fault.get("name", ""))
        if name.startswith(prefix) and client.remove_fault(name, missing_ok=True) is not None:
            done.append(f"websocket: removed fault {name} ({fault.get('summary', fault.get('kind'))}) "
                        f"from {client.url}")
    return done
