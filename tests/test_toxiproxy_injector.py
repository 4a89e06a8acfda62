"""The toxiproxy injector: parameters checked up front, every toxic applied and reverted for real."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
from pydantic import ValidationError

from chaosgate.exceptions import ComponentMissing, InjectorError
from chaosgate.injector import InjectionContext
from chaosgate.ports import LOOPBACK, free_port
from injectors.toxiproxy import TOXIC_MODELS, ToxiproxyClient, ToxiproxyInjector, ToxiproxyParams, cleanup_all

EVERY_TOXIC: dict[str, dict[str, Any]] = {
    "latency": {"latency": 300, "jitter": 20},
    "bandwidth": {"rate": 64},
    "slow_close": {"delay": 500},
    "timeout": {"timeout": 1000},
    "reset_peer": {"timeout": 50},
    "slicer": {"average_size": 16, "size_variation": 4, "delay": 10},
    "limit_data": {"bytes": 4096},
}

Proxies = Callable[..., tuple[str, int]]


def _injector(url: str, run_id: str = "run1", **params: Any) -> ToxiproxyInjector:
    context = InjectionContext(run_id, resources={"toxiproxy": url})
    return ToxiproxyInjector(ToxiproxyParams.model_validate(params), context)


def test_every_toxiproxy_2_toxic_has_a_model() -> None:
    assert set(TOXIC_MODELS) == set(EVERY_TOXIC)


def test_the_entry_point_names_this_injector() -> None:
    (entry,) = entry_points(group="chaosgate.injectors", name="toxiproxy")
    assert entry.load() is ToxiproxyInjector
    assert ToxiproxyInjector.Params is ToxiproxyParams


@pytest.mark.parametrize("toxic_type", sorted(EVERY_TOXIC))
def test_each_toxic_is_applied_and_reverted(
    toxic_type: str, toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies
) -> None:
    name, _ = make_proxy(toxic_type)
    attributes = EVERY_TOXIC[toxic_type]
    toxic = {"type": toxic_type, "attributes": attributes, "stream": "upstream", "toxicity": 0.5}
    injector = _injector(toxiproxy_url, proxy=name, toxic=toxic)

    injector.inject()
    (live,) = toxiproxy.list_toxics(name)
    assert live.name.startswith("chaosgate_run1_")
    assert live.name == injector.created_toxic
    assert (live.type, live.stream, live.toxicity) == (toxic_type, "upstream", 0.5)
    assert {key: live.attributes[key] for key in attributes} == attributes

    injector.revert()
    assert toxiproxy.list_toxics(name) == []
    injector.revert()  # idempotent


@pytest.mark.parametrize(
    ("toxic", "message"),
    [
        ({"type": "latency", "attributes": {"latency": 300, "jiter": 20}}, "jiter"),
        ({"type": "slicer", "attributes": {"average_size": 8, "avg": 2}}, "avg"),
        ({"type": "bandwidth", "attributes": {}}, "rate"),
        ({"type": "latency", "attributes": {"latency": "300ms"}}, "latency"),
        ({"type": "latency", "attributes": {"latency": -1}}, "latency"),
        ({"type": "latency", "attributes": {"latency": 1}, "toxicity": 1.5}, "toxicity"),
        ({"type": "latency", "attributes": {"latency": 1}, "stream": "sideways"}, "stream"),
        ({"type": "latency", "attributes": {"latency": 1}, "colour": "red"}, "colour"),
        ({"type": "slicer", "attributes": {"average_size": 4, "size_variation": 4}}, "size_variation"),
        ({"type": "packet_loss", "attributes": {}}, "packet_loss"),
    ],
)
def test_invalid_toxics_are_validation_errors(toxic: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ToxiproxyParams.model_validate({"proxy": "postgres", "toxic": toxic})


def test_exactly_one_of_toxic_and_down() -> None:
    latency = {"type": "latency", "attributes": {"latency": 1}}
    with pytest.raises(ValidationError, match="exactly one"):
        ToxiproxyParams.model_validate({"proxy": "p"})
    with pytest.raises(ValidationError, match="exactly one"):
        ToxiproxyParams.model_validate({"proxy": "p", "down": True, "toxic": latency})
    with pytest.raises(ValidationError):
        ToxiproxyParams.model_validate({"proxy": "p", "down": False})
    with pytest.raises(ValidationError, match="proxy"):
        ToxiproxyParams.model_validate({"toxic": latency})
    params = ToxiproxyParams.model_validate({"proxy": "p", "toxic": {"type": "reset_peer"}})
    assert params.toxic is not None
    assert params.toxic.attribute_values() == {"timeout": 0}


def test_describe_reads_as_a_sentence() -> None:
    latency = {"type": "latency", "attributes": {"latency": 300, "jitter": 20}}
    injector = _injector("http://unused", proxy="postgres", toxic=latency)
    assert injector.describe() == "toxiproxy: latency 300ms ±20ms on postgres (downstream, toxicity 1.0)"
    down = ToxiproxyInjector(
        ToxiproxyParams(proxy="postgres", down=True),
        InjectionContext("r", resources={"proxy:postgres": "prism_postgres"}),
    )
    assert down.describe() == "toxiproxy: proxy postgres (prism_postgres) down (disabled)"


def test_down_disables_the_proxy_and_revert_enables_it(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies, measure: Callable[..., float]
) -> None:
    name, port = make_proxy("down")
    injector = _injector(toxiproxy_url, proxy=name, down=True)
    with injector:
        proxy = toxiproxy.get_proxy(name)
        assert proxy.enabled is False
        assert [t.name for t in proxy.toxics] == [injector.created_marker]  # the record a cleanup finds
        with pytest.raises((ConnectionRefusedError, ConnectionResetError)):
            measure(port, timeout=1.0)
    proxy = toxiproxy.get_proxy(name)
    assert proxy.enabled
    assert proxy.toxics == ()
    assert measure(port, timeout=5.0) >= 0  # answers again; a refused connection raises
    injector.revert()


def test_down_leaves_an_already_disabled_proxy_alone(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies
) -> None:
    name, _ = make_proxy("predown")
    toxiproxy.disable_proxy(name)
    with _injector(toxiproxy_url, proxy=name, down=True):
        assert toxiproxy.get_proxy(name).toxics == ()
    assert toxiproxy.get_proxy(name).enabled is False


def test_two_down_faults_on_one_proxy_release_it_only_when_both_end(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies
) -> None:
    name, _ = make_proxy("twice")
    first = _injector(toxiproxy_url, "run-a", proxy=name, down=True)
    first.inject()
    second = _injector(toxiproxy_url, "run-b", proxy=name, down=True)
    second.inject()  # already disabled, but by chaosgate (the marker of `first` says so): hold it too
    first.revert()
    assert toxiproxy.get_proxy(name).enabled is False
    second.revert()
    assert toxiproxy.get_proxy(name).enabled


def test_proxy_name_resolves_through_the_target(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies
) -> None:
    name, _ = make_proxy("resolved")
    context = InjectionContext("r2", resources={"toxiproxy": toxiproxy_url, "proxy:postgres": name})
    bandwidth = {"type": "bandwidth", "attributes": {"rate": 1}}
    params = ToxiproxyParams.model_validate({"proxy": "postgres", "toxic": bandwidth})
    with ToxiproxyInjector(params, context) as injector:
        assert injector.proxy_name == name
        assert [t.type for t in toxiproxy.list_toxics(name)] == ["bandwidth"]
    assert toxiproxy.list_toxics(name) == []


def test_revert_tolerates_the_toxic_being_gone(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies
) -> None:
    name, _ = make_proxy("gone")
    injector = _injector(toxiproxy_url, proxy=name, toxic={"type": "timeout", "attributes": {"timeout": 0}})
    injector.inject()
    toxiproxy.reset()
    injector.revert()
    down = _injector(toxiproxy_url, proxy=name, down=True)
    down.inject()
    toxiproxy.delete_proxy(name)
    down.revert()  # the proxy itself is gone: nothing left to enable
    with pytest.raises(InjectorError, match="proxy not found"):
        _injector(toxiproxy_url, proxy=name, down=True).inject()


def test_revert_runs_when_the_block_raises(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies
) -> None:
    name, _ = make_proxy("raises")
    with pytest.raises(RuntimeError), _injector(toxiproxy_url, proxy=name, toxic={"type": "reset_peer"}):
        raise RuntimeError("the scenario failed")
    assert toxiproxy.list_toxics(name) == []


def test_unreachable_server_is_component_missing() -> None:
    injector = _injector(f"http://{LOOPBACK}:{free_port()}", proxy="p", down=True)
    with pytest.raises(ComponentMissing):
        injector.inject()


def test_cleanup_all_undoes_what_a_killed_run_left(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies, measure: Callable[..., float]
) -> None:
    slow, _ = make_proxy("crash_slow")
    down, down_port = make_proxy("crash_down")
    # A run that never reverted (as after SIGKILL): the injector objects are simply dropped.
    latency = {"type": "latency", "attributes": {"latency": 500}}
    _injector(toxiproxy_url, "killed", proxy=slow, toxic=latency).inject()
    _injector(toxiproxy_url, "killed", proxy=down, down=True).inject()
    toxiproxy.add_toxic(slow, name="not_ours", type="latency", attributes={"latency": 1})

    result = cleanup_all(toxiproxy)

    assert result.enabled_proxies == [down]
    assert {proxy for proxy, _ in result.removed_toxics} == {slow, down}
    assert [t.name for t in toxiproxy.list_toxics(slow)] == ["not_ours"]
    assert toxiproxy.list_toxics(down) == []
    assert measure(down_port, timeout=5.0) >= 0  # answers again; a refused connection raises
    assert any("re-enabled proxy" in line for line in result.lines())
    assert cleanup_all(toxiproxy).lines() == []


def test_cleanup_of_one_run_keeps_another_runs_outage(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: Proxies
) -> None:
    name, _ = make_proxy("shared")
    _injector(toxiproxy_url, "mine", proxy=name, down=True).inject()
    _injector(toxiproxy_url, "theirs", proxy=name, down=True).inject()
    cleanup_all(toxiproxy, run_id="mine")
    assert toxiproxy.get_proxy(name).enabled is False
    cleanup_all(toxiproxy, run_id="theirs")
    assert toxiproxy.get_proxy(name).enabled
