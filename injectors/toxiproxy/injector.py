"""The `toxiproxy` injector: network faults through a Toxiproxy proxy (R3.1).

Everything this injector creates on the server is named with the prefix
``chaosgate_``, so ``chaosgate cleanup`` can find it after a SIGKILL without
any local state:

* a toxic is named ``chaosgate_<run_id>_<n>``;
* taking a proxy down is recorded *on the proxy itself* before it is disabled.
  Toxiproxy proxies carry no labels, but toxics survive a disable, so the
  injector first adds an inert marker toxic ``chaosgate_<run_id>_<n>_down``
  (a latency of 0 ms with toxicity 0: it never touches a byte) and only then
  disables the proxy. Revert re-enables the proxy and then removes the marker;
  :func:`cleanup_all` re-enables every proxy that still carries a marker.
  A proxy that was already disabled before the fault is left as it was.

The server is a resource the target publishes like any other:
``resources["toxiproxy"]`` is its API URL (:data:`SERVER_RESOURCE`), and
without one the injector uses Toxiproxy's default, :data:`DEFAULT_URL`.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from chaosgate.exceptions import ChaosgateError, InjectorError
from chaosgate.injector import InjectionContext, Injector, InjectorParams, StarterFault
from injectors.toxiproxy import starters
from injectors.toxiproxy.client import ToxiproxyClient, ToxiproxyConflict, ToxiproxyNotFound
from injectors.toxiproxy.toxics import LatencyAttributes, LatencyToxic, ToxicSpec

PREFIX = "chaosgate_"
DOWN_SUFFIX = "_down"
SERVER_RESOURCE = "toxiproxy"
DEFAULT_URL = "http://127.0.0.1:8474"
_NAME_ATTEMPTS = 10

_sequence = itertools.count(1)
_sequence_lock = threading.Lock()


def _next_number() -> int:
    """Process-wide, so two injectors of one run never pick the same toxic name."""
    with _sequence_lock:
        return next(_sequence)


def _safe_run_id(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", run_id).strip("-") or "run"


def server_url(resources: Mapping[str, str]) -> str:
    """The Toxiproxy API the target published, or Toxiproxy's default address."""
    return resources.get(SERVER_RESOURCE) or DEFAULT_URL


class ToxiproxyParams(InjectorParams):
    """A toxic on a proxy, or the proxy taken down; exactly one of `toxic` and `down`."""

    # Merged with the base config (frozen, extra=forbid) by pydantic; tells editors "one of the two".
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["toxic"]}, {"required": ["down"]}]})

    proxy: str = Field(
        min_length=1,
        description="Proxy name as the target names it (resolved through the target), or as on the server.",
    )
    toxic: ToxicSpec | None = Field(default=None, description="The toxic to add while the fault lasts.")
    down: Literal[True] | None = Field(
        default=None, description="`true` disables the proxy: it stops listening and drops connections."
    )

    @model_validator(mode="after")
    def _exactly_one_fault(self) -> ToxiproxyParams:
        if (self.toxic is None) == (self.down is None):
            raise ValueError("give exactly one of `toxic` (a toxic to add) or `down: true` (proxy disabled)")
        return self


class ToxiproxyInjector(Injector[ToxiproxyParams]):
    """Toxiproxy: latency, bandwidth, timeouts, resets, slicing, data limits, or a proxy down."""

    name: ClassVar[str] = "toxiproxy"
    Params: ClassVar[type[InjectorParams]] = ToxiproxyParams
    summary: ClassVar[str] = "Network faults through a Toxiproxy proxy: any 2.x toxic, or the proxy down."

    def __init__(self, params: ToxiproxyParams, context: InjectionContext) -> None:
        super().__init__(params, context)
        self._toxic_name: str | None = None
        self._marker_name: str | None = None

    @classmethod
    def fault_class(cls, params: Mapping[str, Any]) -> str:
        return starters.fault_class(params)

    @classmethod
    def starter_faults(cls, dependencies: Sequence[str]) -> list[StarterFault]:
        return starters.starter_faults(dependencies)

    @property
    def proxy_name(self) -> str:
        """The proxy on the server: the target's resolution of the scenario's name, if it has one."""
        return self.context.resources.get(f"proxy:{self.params.proxy}", self.params.proxy)

    @property
    def created_toxic(self) -> str | None:
        """Name of the toxic this injector added and has not yet removed."""
        return self._toxic_name

    @property
    def created_marker(self) -> str | None:
        """Name of the down-marker toxic this injector added (see the module docstring)."""
        return self._marker_name

    def _client(self) -> ToxiproxyClient:
        return ToxiproxyClient(server_url(self.context.resources))

    def _add_named(self, client: ToxiproxyClient, spec: ToxicSpec, suffix: str = "") -> str:
        """Add a toxic named ``chaosgate_<run>_<n>``; on a clash (another process) try the next n."""
        base = f"{PREFIX}{_safe_run_id(self.context.run_id)}_"
        for _ in range(_NAME_ATTEMPTS):
            name = f"{base}{_next_number()}{suffix}"
            try:
                client.add_toxic(
                    self.proxy_name, name=name, type=spec.type, attributes=spec.attribute_values(),
                    stream=spec.stream, toxicity=spec.toxicity,
                )
            except ToxiproxyConflict:
                continue
            return name
        raise InjectorError(f"toxiproxy: no free toxic name under {base}* on {self.proxy_name}")

    def inject(self) -> None:
        if self._toxic_name or self._marker_name:
            raise InjectorError(f"{self.describe()}: already injected")
        with self._client() as client:
            if self.params.toxic is not None:
                self._toxic_name = self._add_named(client, self.params.toxic)
                return
            proxy = client.get_proxy(self.proxy_name)
            if not proxy.enabled and not any(_is_marker(t.name) for t in proxy.toxics):
                return  # someone else's outage: not ours to undo
            # Down already by another chaosgate fault: add our marker too, so its revert keeps it down.
            marker = self._add_named(client, _down_marker(), DOWN_SUFFIX)
            if proxy.enabled:
                try:
                    client.disable_proxy(self.proxy_name)
                except ChaosgateError:
                    client.remove_toxic(self.proxy_name, marker, missing_ok=True)  # leave nothing behind
                    raise
            self._marker_name = marker

    def revert(self) -> None:
        if self._toxic_name is None and self._marker_name is None:
            return
        with self._client() as client:
            if self._toxic_name is not None:
                client.remove_toxic(self.proxy_name, self._toxic_name, missing_ok=True)
                self._toxic_name = None
            if self._marker_name is not None:
                _restore_proxy(client, self.proxy_name, self._marker_name)
                self._marker_name = None

    @classmethod
    def cleanup(cls, context: InjectionContext) -> list[str]:
        """Remove every ``chaosgate_`` toxic of any run and re-enable the proxies they took down.

        Raises :class:`~chaosgate.exceptions.ComponentMissing` when no server
        answers at the context's ``toxiproxy`` resource (or the default
        address): then there is nothing to clean, since Toxiproxy keeps
        proxies and toxics in memory.
        """
        with ToxiproxyClient(server_url(context.resources)) as client:
            return cleanup_all(client).lines()

    def describe(self) -> str:
        proxy = self.params.proxy
        if self.proxy_name != proxy:
            proxy = f"{proxy} ({self.proxy_name})"
        toxic = self.params.toxic
        if toxic is None:
            return f"toxiproxy: proxy {proxy} down (disabled)"
        return f"toxiproxy: {toxic.summary()} on {proxy} ({toxic.stream}, toxicity {toxic.toxicity:.1f})"


def _is_marker(name: str) -> bool:
    return name.startswith(PREFIX) and name.endswith(DOWN_SUFFIX)


def _down_marker() -> ToxicSpec:
    """An inert toxic whose only job is to say "chaosgate disabled this proxy"."""
    return LatencyToxic(
        type="latency", attributes=LatencyAttributes(latency=0), toxicity=0.0, stream="upstream"
    )


def _restore_proxy(client: ToxiproxyClient, proxy: str, marker: str) -> bool:
    """Re-enable `proxy` unless another chaosgate fault still holds it down, then drop `marker`.

    Enabling before removing the marker means a crash in between leaves the
    marker, and the next cleanup enables again (harmless) and removes it.
    Returns whether the proxy was enabled.
    """
    try:
        others = [t.name for t in client.list_toxics(proxy) if _is_marker(t.name) and t.name != marker]
    except ToxiproxyNotFound:
        return False  # the proxy itself is gone: nothing to enable
    enabled = not others
    if enabled:
        client.enable_proxy(proxy)
    client.remove_toxic(proxy, marker, missing_ok=True)
    return enabled


@dataclass
class CleanupResult:
    """What :func:`cleanup_all` undid, for `chaosgate cleanup` to print."""

    removed_toxics: list[tuple[str, str]] = field(default_factory=list)
    enabled_proxies: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"toxiproxy: removed toxic {toxic} from {proxy}" for proxy, toxic in self.removed_toxics] + [
            f"toxiproxy: re-enabled proxy {proxy}" for proxy in self.enabled_proxies
        ]


def cleanup_all(client: ToxiproxyClient, run_id: str | None = None) -> CleanupResult:
    """Remove every ``chaosgate_`` toxic (of one run, if `run_id` is given); re-enable what it took down."""
    prefix = PREFIX if run_id is None else f"{PREFIX}{_safe_run_id(run_id)}_"
    result = CleanupResult()
    for proxy in client.list_proxies().values():
        ours = [t.name for t in proxy.toxics if t.name.startswith(prefix)]
        markers = [name for name in ours if _is_marker(name)]
        for name in ours:
            if name not in markers and client.remove_toxic(proxy.name, name, missing_ok=True):
                result.removed_toxics.append((proxy.name, name))
        foreign = [t.name for t in proxy.toxics if _is_marker(t.name) and not t.name.startswith(prefix)]
        if markers:
            if not proxy.enabled and not foreign:
                client.enable_proxy(proxy.name)
                result.enabled_proxies.append(proxy.name)
            for name in markers:
                if client.remove_toxic(proxy.name, name, missing_ok=True):
                    result.removed_toxics.append((proxy.name, name))
    return result
