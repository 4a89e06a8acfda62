"""The docker `partition` action against the real engine and the host's iptables.

Three containers from the local image share one user-defined network: `a` and
`b` serve HTTP, `c` is the client, and reachability is asked from inside a
container with python3 (`docker exec`, every attempt bounded by its timeout).
Every container and network is labelled chaosgate.test=1 and removed even
when a test fails, and every test ends with no `chaosgate:` iptables rule on
the host (a leftover is deleted, then reported as a failure).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chaosgate.exceptions import ComponentMissing, InjectorError
from chaosgate.injector import InjectionContext
from chaosgate.ports import LOOPBACK, free_port
from chaosgate.scenario.loader import validate_paths
from injectors.docker import DockerEngine, DockerInjector, DockerParams, cleanup_all, undo_dir
from injectors.docker.client import NetworkAddress
from injectors.docker.firewall import Firewall, drop_rule, require_bridge_filtering, run_tag_prefix
from injectors.docker.injector import address_pairs
from tests.conftest import TEST_IMAGE, TEST_LABEL, HttpProbe
from tests.test_cleanup_hooks import abandon

pytestmark = pytest.mark.docker

PROBE = """
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    print(opener.open(f"http://{sys.argv[1]}:8000/", timeout=float(sys.argv[2])).status)
except Exception as error:
    print("timeout" if "timed out" in str(error) else f"error {error!r}")
"""
CUT = 1.5
"""Seconds a probe waits before calling a peer unreachable."""
STRAY = ("192.0.2.1", "192.0.2.2")
"""TEST-NET-1 (RFC 5737): addresses no container has, for rules that must match nothing."""


def reach(source: Any, target: str, timeout: float = CUT) -> str:
    """`200`, `timeout` or `error ...`: a GET from inside `source` to port 8000 of `target`."""
    _, output = source.exec_run(["python3", "-c", PROBE, target, str(timeout)])
    return bytes(output).decode().strip()


@dataclass
class Trio:
    network: Any
    a: Any
    b: Any
    c: Any
    a_port: int
    side: str
    """`label=...` selecting b and c."""


@pytest.fixture(scope="module")
def trio(docker_engine: DockerEngine) -> Iterator[Trio]:
    uid = uuid.uuid4().hex[:8]
    sdk = docker_engine.sdk
    network = sdk.networks.create(f"chaosgate-test-{uid}", labels={TEST_LABEL: "1"})
    started: list[Any] = []
    try:
        a_port = free_port()
        for name in ("a", "b", "c"):
            labels = {TEST_LABEL: "1"} if name == "a" else {TEST_LABEL: "1", "chaosgate.test.side": uid}
            started.append(
                sdk.containers.run(
                    TEST_IMAGE,
                    ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"],
                    name=f"chaosgate-test-{uid}-{name}",
                    detach=True,
                    init=True,
                    network=network.name,
                    labels=labels,
                    ports={"8000/tcp": (LOOPBACK, a_port)} if name == "a" else {},
                )
            )
        a, b, c = started
        assert HttpProbe.wait(a_port), "container a did not serve on its published port"
        deadline = time.monotonic() + 20
        while {reach(c, a.name), reach(c, b.name)} != {"200"} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert reach(c, a.name) == reach(c, b.name) == "200"
        yield Trio(network, a, b, c, a_port, f"label=chaosgate.test.side={uid}")
    finally:
        for container in started:
            with contextlib.suppress(Exception):  # teardown must try every one
                container.remove(force=True)
        with contextlib.suppress(Exception):
            network.remove()


@pytest.fixture(autouse=True)
def no_rule_left() -> Iterator[None]:
    yield
    left = Firewall().remove(lambda tag: True)
    assert left == [], f"chaosgate iptables rules were left behind (now deleted): {left}"


def _injector(state_root: Path, run_id: str = "partitiontest", **params: Any) -> DockerInjector:
    context = InjectionContext(run_id, state_dir=state_root)
    return DockerInjector(DockerParams.model_validate(params), context)


def _records(state_root: Path) -> list[Path]:
    return sorted(undo_dir(state_root).glob("*.json"))


# -- parameters and planning (no engine) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "partition"}, "needs `groups`"),
        ({"action": "partition", "container": "a", "groups": [["a"], ["b"]]}, "not `container` or `label`"),
        ({"action": "partition", "groups": [["a"]]}, "at least 2 items"),
        ({"action": "partition", "groups": [["a"], []]}, "at least 1 item"),
        ({"action": "partition", "groups": [["a"], ["b", "a"]]}, "`a` is in group 1 and in group 2"),
        ({"action": "partition", "groups": [["a"], ["lable=x"]]}, "should match pattern"),
        ({"action": "partition", "groups": [["a"], ["b"]], "signal": "TERM"}, "`signal` does not apply"),
        ({"action": "pause", "container": "a", "groups": [["a"], ["b"]]}, "`groups` does not apply"),
    ],
)
def test_invalid_partitions_are_validation_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DockerParams.model_validate(params)


def test_a_partition_in_a_scenario_validates_and_describes_itself(tmp_path: Path) -> None:
    (tmp_path / "partition.yaml").write_text(
        "id: partition\ntitle: t\ntarget: reference\n"
        "faults:\n"
        "  - {injector: docker, action: partition, for: 5s,\n"
        "     groups: [[api], [postgres, 'label=role=cache']]}\n"
    )
    report = validate_paths([tmp_path])
    assert report.errors == []
    params = report.scenarios[0].fault_params[0]
    assert isinstance(params, DockerParams)
    injector = DockerInjector(params, InjectionContext("r", resources={"container:api": "prism-api-1"}))
    assert injector.describe() == (
        "docker: partition [api (prism-api-1)] | [postgres, label=role=cache] on every network they share"
    )


def test_pairs_cover_both_directions_on_shared_networks_only() -> None:
    def on(*networks: tuple[str, str]) -> dict[str, NetworkAddress]:
        return {net: NetworkAddress(net, net, ip, "") for net, ip in networks}

    x = ("x", on(("front", "10.0.0.1"), ("back", "10.1.0.1")))
    y = ("y", on(("back", "10.1.0.2")))
    z = ("z", on(("other", "10.2.0.3")))
    assert address_pairs([[x], [y, z]], None) == [("10.1.0.1", "10.1.0.2"), ("10.1.0.2", "10.1.0.1")]
    assert address_pairs([[x], [y, z]], "front") == []
    v6 = ("w", {"back": NetworkAddress("back", "back", "10.1.0.9", "fd00::9")})
    with pytest.raises(InjectorError, match="IPv6"):
        address_pairs([[x], [v6]], None)


def test_missing_kernel_or_binary_support_is_component_missing(tmp_path: Path) -> None:
    (tmp_path / "off").write_text("0\n")
    with pytest.raises(ComponentMissing, match="bridge-nf-call-iptables"):
        require_bridge_filtering(tmp_path / "off")
    with pytest.raises(ComponentMissing, match="br_netfilter"):
        require_bridge_filtering(tmp_path / "missing")
    with pytest.raises(ComponentMissing, match="not found"):
        Firewall("/nonexistent/iptables").chain()


# -- the host's iptables --------------------------------------------------------------------------


def test_the_engine_here_provides_docker_user_and_forward_is_the_fallback() -> None:
    assert Firewall().chain() == "DOCKER-USER"  # Docker 20.10 creates it when it manages iptables
    fallback = Firewall(chains=("CHAOSGATE-TEST-NO-SUCH-CHAIN", "FORWARD"))
    assert fallback.chain() == "FORWARD"
    tag = fallback.next_tag(f"fallback-{uuid.uuid4().hex[:8]}")
    fallback.insert("FORWARD", drop_rule(*STRAY, tag))
    try:
        (first,) = [rule for rule in fallback.tagged() if rule.chain == "FORWARD"]
        assert first.tag == tag
    finally:
        assert [rule.tag for rule in fallback.remove(lambda found: found == tag)] == [tag]


def test_cleanup_deletes_chaosgate_rules_that_no_record_accounts_for(tmp_path: Path) -> None:
    firewall = Firewall()
    tag = firewall.next_tag(f"stray-{uuid.uuid4().hex[:8]}")
    assert tag.endswith(":1")
    firewall.insert("DOCKER-USER", drop_rule(*STRAY, tag))
    firewall.insert("DOCKER-USER", drop_rule(*reversed(STRAY), tag))
    assert firewall.next_tag(tag.rsplit(":", 2)[1]).endswith(":2")
    lines = cleanup_all(None, tmp_path / "empty-state")
    assert lines == [f"docker: removed 2 leftover iptables rules tagged {tag}"]
    assert cleanup_all(None, tmp_path / "empty-state") == []


# -- the real engine ------------------------------------------------------------------------------


def test_partition_cuts_between_groups_and_revert_heals(
    trio: Trio, http: HttpProbe, state_root: Path
) -> None:
    injector = _injector(state_root, groups=[[trio.a.name], [trio.side]], action="partition")
    injector.inject()
    try:
        assert reach(trio.c, trio.a.name) == "timeout"
        assert reach(trio.a, trio.b.name) == "timeout"  # both directions
        assert reach(trio.c, trio.b.name) == "200"  # inside a group nothing changes
        assert http.status(trio.a_port, timeout=2.0) == 200  # nor from the host to a published port
        rules = Firewall().tagged(lambda tag: tag.startswith(run_tag_prefix("partitiontest")))
        assert {rule.chain for rule in rules} == {"DOCKER-USER"}
        assert len(rules) == 4  # a<->b, a<->c
        assert len(_records(state_root)) == 1  # written before the first rule
    finally:
        injector.revert()
    assert reach(trio.c, trio.a.name) == "200"
    assert reach(trio.a, trio.b.name) == "200"
    assert _records(state_root) == []
    injector.revert()  # idempotent


def test_cleanup_after_a_sigkilled_inject_removes_the_rules(trio: Trio, state_root: Path) -> None:
    run_id = f"killed-{uuid.uuid4().hex[:8]}"
    params = {"action": "partition", "groups": [[trio.a.name], [trio.c.name]]}
    abandon("docker", params, InjectionContext(run_id, state_dir=state_root))
    assert reach(trio.c, trio.a.name) == "timeout"

    lines = DockerInjector.cleanup(InjectionContext("cleanup", state_dir=state_root))

    tag = f"{run_tag_prefix(run_id)}1"
    groups = f"[{trio.a.name}] | [{trio.c.name}]"
    assert lines == [f"docker: removed the partition {groups} (2 iptables rules {tag})"]
    assert Firewall().tagged() == []
    assert reach(trio.c, trio.a.name) == "200"
    assert _records(state_root) == []
    assert DockerInjector.cleanup(InjectionContext("cleanup", state_dir=state_root)) == []


def test_errors_name_what_failed_and_change_nothing(
    trio: Trio, web_container: Any, state_root: Path
) -> None:
    def fails(message: str, **params: Any) -> None:
        with pytest.raises(InjectorError, match=message):
            _injector(state_root, action="partition", **params).inject()

    fails("no container named chaosgate-test-missing", groups=[[trio.a.name], ["chaosgate-test-missing"]])
    nobody = f"label=chaosgate.test.none={uuid.uuid4()}"
    fails("no container carries the label", groups=[[trio.a.name], [nobody]])
    fails(f"{trio.c.name} is in group 1 and group 2", groups=[[trio.c.name], [trio.side]])
    fails("share no network bridge", groups=[[trio.a.name], [trio.b.name]], network="bridge")
    alone = web_container()  # on the default bridge only
    fails("share no network", groups=[[trio.a.name], [alone.name]])
    alone.container.pause()
    fails("it is paused, not running", groups=[[trio.a.name], [alone.name]])
    alone.container.unpause()
    assert _records(state_root) == []
