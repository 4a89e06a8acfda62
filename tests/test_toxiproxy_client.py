"""chaosgate's Toxiproxy client against a real toxiproxy-server and a real TCP echo server."""

from __future__ import annotations

import socket
import statistics
from collections.abc import Callable
from typing import Any

import pytest

from chaosgate.exceptions import ComponentMissing, InjectorError
from chaosgate.ports import LOOPBACK, free_port
from injectors.toxiproxy.client import ToxiproxyClient, ToxiproxyConflict, ToxiproxyNotFound

LATENCY_MS = 200
# Long enough that "the delay is gone" is told apart from "still delayed" by a 2 s deadline.
REMOVED_LATENCY_MS = 2500


def _median(measure: Callable[..., float], port: int, samples: int = 3) -> float:
    return statistics.median(measure(port) for _ in range(samples))


def test_version_is_text(toxiproxy: ToxiproxyClient) -> None:
    version = toxiproxy.version()
    assert isinstance(version, str)
    assert version == "2.12.0"


def test_proxy_lifecycle(toxiproxy: ToxiproxyClient, make_proxy: Callable[..., tuple[str, int]]) -> None:
    name, port = make_proxy("lifecycle")
    proxy = toxiproxy.get_proxy(name)
    assert proxy.enabled
    assert proxy.listen_port == port
    assert proxy.toxics == ()
    assert name in toxiproxy.list_proxies()
    assert toxiproxy.delete_proxy(name)
    assert name not in toxiproxy.list_proxies()
    assert toxiproxy.delete_proxy(name, missing_ok=True) is False
    with pytest.raises(ToxiproxyNotFound):
        toxiproxy.delete_proxy(name)


def test_latency_toxic_adds_delay_and_removing_it_takes_it_away(
    toxiproxy: ToxiproxyClient, make_proxy: Callable[..., tuple[str, int]], measure: Callable[..., float]
) -> None:
    name, port = make_proxy("latency")
    baseline = _median(measure, port)

    latency = {"latency": REMOVED_LATENCY_MS}
    toxic = toxiproxy.add_toxic(name, name="slow", type="latency", attributes=latency)
    assert (toxic.type, toxic.stream, toxic.toxicity) == ("latency", "downstream", 1.0)
    assert toxic.attributes["latency"] == REMOVED_LATENCY_MS
    slow = measure(port, timeout=10.0)
    added = slow - baseline
    assert added >= REMOVED_LATENCY_MS / 1000 * 0.9, f"{added:.3f}s added, not {REMOVED_LATENCY_MS} ms"

    assert toxiproxy.remove_toxic(name, "slow")
    after = _median(measure, port)
    assert after < 2.0, f"latency should be gone after removal, took {after:.3f}s"
    assert toxiproxy.list_toxics(name) == []


def test_update_toxic_changes_it_in_place(
    toxiproxy: ToxiproxyClient, make_proxy: Callable[..., tuple[str, int]], measure: Callable[..., float]
) -> None:
    name, port = make_proxy("update")
    toxiproxy.add_toxic(name, name="t", type="latency", attributes={"latency": 10}, toxicity=0.5)
    updated = toxiproxy.update_toxic(name, "t", attributes={"latency": LATENCY_MS, "jitter": 5})
    assert updated.attributes == {"latency": LATENCY_MS, "jitter": 5}
    assert updated.toxicity == 0.5  # omitted fields keep their value
    updated = toxiproxy.update_toxic(name, "t", toxicity=1.0)
    assert updated.toxicity == 1.0
    assert updated.attributes["latency"] == LATENCY_MS
    assert measure(port) >= LATENCY_MS / 1000 * 0.9
    with pytest.raises(ToxiproxyNotFound):
        toxiproxy.update_toxic(name, "missing", toxicity=1.0)


def test_disable_refuses_connections_and_enable_restores(
    toxiproxy: ToxiproxyClient, make_proxy: Callable[..., tuple[str, int]], measure: Callable[..., float]
) -> None:
    name, port = make_proxy("down")
    assert toxiproxy.disable_proxy(name).enabled is False
    with pytest.raises((ConnectionRefusedError, ConnectionResetError)):  # nothing listens any more
        measure(port, timeout=1.0)
    assert toxiproxy.enable_proxy(name).enabled is True
    assert measure(port, timeout=5.0) >= 0  # answers again; a refused connection raises


def test_reset_enables_everything_and_removes_toxics(
    toxiproxy: ToxiproxyClient, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    name, _ = make_proxy("reset")
    toxiproxy.add_toxic(name, name="t", type="timeout", attributes={"timeout": 0})
    toxiproxy.disable_proxy(name)
    toxiproxy.reset()
    proxy = toxiproxy.get_proxy(name)
    assert proxy.enabled
    assert proxy.toxics == ()


def test_http_errors_become_injector_errors(
    toxiproxy: ToxiproxyClient, make_proxy: Callable[..., tuple[str, int]]
) -> None:
    name, _ = make_proxy("errors")
    with pytest.raises(ToxiproxyNotFound, match="proxy not found"):
        toxiproxy.get_proxy("no_such_proxy")
    with pytest.raises(ToxiproxyConflict, match="409"):
        toxiproxy.create_proxy(name, "127.0.0.1:9")
    with pytest.raises(InjectorError, match=r"POST /proxies/.*/toxics failed: HTTP 400 invalid toxic type"):
        toxiproxy.add_toxic(name, name="x", type="no_such_toxic", attributes={})
    toxiproxy.add_toxic(name, name="dup", type="latency", attributes={"latency": 1})
    with pytest.raises(ToxiproxyConflict):
        toxiproxy.add_toxic(name, name="dup", type="latency", attributes={"latency": 1})
    assert toxiproxy.remove_toxic(name, "gone", missing_ok=True) is False
    assert toxiproxy.remove_toxic("no_such_proxy", "gone", missing_ok=True) is False
    assert issubclass(ToxiproxyNotFound, InjectorError)
    assert issubclass(ToxiproxyConflict, InjectorError)


def test_unreachable_server_is_component_missing() -> None:
    url = f"http://{LOOPBACK}:{free_port()}"
    with ToxiproxyClient(url, timeout=1.0) as client, pytest.raises(ComponentMissing, match="not reachable"):
        client.version()


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never reads or answers
        silent.bind((LOOPBACK, 0))
        silent.listen(4)
        client = ToxiproxyClient(f"http://{LOOPBACK}:{silent.getsockname()[1]}", timeout=0.3)
        with client, pytest.raises(InjectorError, match="did not answer"):
            client.list_proxies()


def test_instances_share_no_state(toxiproxy_url: str) -> None:
    """toxiproxy-python keeps one host/port for the process; two clients here address two servers."""
    dead = ToxiproxyClient(f"http://{LOOPBACK}:{free_port()}", timeout=0.5)
    live = ToxiproxyClient(toxiproxy_url)
    try:
        assert live.version() == "2.12.0"
        with pytest.raises(ComponentMissing):
            dead.version()
        assert live.version() == "2.12.0"
    finally:
        dead.close()
        live.close()


def test_names_with_odd_characters_are_quoted(toxiproxy: ToxiproxyClient, echo_server: Any) -> None:
    name = "odd name %20 ü"
    proxy = toxiproxy.create_proxy(name, echo_server.address)
    try:
        assert toxiproxy.get_proxy(name).name == proxy.name == name
        toxiproxy.add_toxic(name, name="a toxic %", type="latency", attributes={"latency": 1})
        assert toxiproxy.remove_toxic(name, "a toxic %")
    finally:
        toxiproxy.delete_proxy(name)
    with pytest.raises(InjectorError, match="has a `/`"):
        toxiproxy.create_proxy("a/b", echo_server.address)
    assert "a/b" not in toxiproxy.list_proxies()
