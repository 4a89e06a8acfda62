"""`chaosgate cleanup` finds the servers faults went through in what targets published.

The engine names no backend: a target publishes its servers as resources
(``toxiproxy``, ``wsproxy:<name>``…), records them beside what it started,
and cleanup hands each recorded set to every injector.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chaosgate.commands import resource_sets
from chaosgate.injector import InjectionContext
from chaosgate.target import published_resources
from injectors.toxiproxy import DEFAULT_URL, ToxiproxyClient, ToxiproxyInjector, ToxiproxyParams, server_url
from targets.url import UrlSpec, UrlTarget
from tests.conftest import EchoServer, ProxyFactory

LATENCY = {"type": "latency", "attributes": {"latency": 400}}


def cleanup(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaosgate", "cleanup", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ours(client: ToxiproxyClient, proxy: str) -> list[str]:
    return [toxic.name for toxic in client.list_toxics(proxy) if toxic.name.startswith("chaosgate_")]


def test_published_resources_come_from_target_records(tmp_path: Path) -> None:
    records = tmp_path / "targets"
    records.mkdir()
    (records / "a.json").write_text(json.dumps({"resources": {"toxiproxy": "http://127.0.0.1:1"}}))
    (records / "b.json").write_text(json.dumps({"pid": 12}))  # a record that publishes nothing
    (records / "c.json").write_text("{not json")
    assert published_resources(tmp_path) == [{"toxiproxy": "http://127.0.0.1:1"}]
    assert published_resources(tmp_path / "nowhere") == []


def test_cleanup_hands_every_distinct_set_of_resources_once(tmp_path: Path) -> None:
    (tmp_path / "targets").mkdir()
    for name in ("one", "two"):  # two records of the same servers
        (tmp_path / "targets" / f"{name}.json").write_text(json.dumps({"resources": {"toxiproxy": "http://r"}}))
    given = [("toxiproxy", "http://a"), ("toxiproxy", "http://b"), ("wsproxy:events", "http://w")]
    assert resource_sets(given, tmp_path) == [
        {},  # every injector's default servers
        {"toxiproxy": "http://a", "wsproxy:events": "http://w"},
        {"toxiproxy": "http://b"},
        {"toxiproxy": "http://r"},
    ]


def test_the_toxiproxy_server_is_a_resource_with_a_default() -> None:
    assert server_url({}) == DEFAULT_URL == "http://127.0.0.1:8474"
    assert server_url({"toxiproxy": "http://127.0.0.1:9999"}) == "http://127.0.0.1:9999"


def test_a_killed_runs_toxic_is_found_through_the_record_its_target_left(
    tmp_path: Path, toxiproxy: ToxiproxyClient, toxiproxy_url: str, echo_server: EchoServer
) -> None:
    """No --toxiproxy: cleanup learns the server from the url target's record alone."""
    state = tmp_path / "state"
    spec = UrlSpec(name="svc", base_url=f"http://127.0.0.1:{echo_server.port}", toxiproxy_url=toxiproxy_url)
    deployment = UrlTarget(spec, run_id="killed", state_dir=state).up()  # never down(): as after SIGKILL
    proxy = deployment.resources["proxy:api"]
    assert deployment.resources["toxiproxy"] == toxiproxy_url
    context = InjectionContext("killed", state_dir=state, resources=deployment.resources)
    ToxiproxyInjector(ToxiproxyParams.model_validate({"proxy": "api", "toxic": LATENCY}), context).inject()
    assert len(ours(toxiproxy, proxy)) == 1

    result = cleanup("--state-dir", str(state), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert f"from {proxy}" in result.stdout
    assert f"url target: removed proxy {proxy}" in result.stdout
    assert proxy not in toxiproxy.list_proxies()
    assert list((state / "targets").glob("*.json")) == []


def test_a_server_named_on_the_command_line_is_cleaned_by_either_spelling(
    tmp_path: Path, toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: ProxyFactory
) -> None:
    for flag in (["--toxiproxy", toxiproxy_url], ["--resource", f"toxiproxy={toxiproxy_url}"]):
        name, _ = make_proxy()
        context = InjectionContext("killed", state_dir=tmp_path, resources={"toxiproxy": toxiproxy_url})
        ToxiproxyInjector(ToxiproxyParams.model_validate({"proxy": name, "toxic": LATENCY}), context).inject()
        result = cleanup("--state-dir", str(tmp_path), *flag, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert ours(toxiproxy, name) == []
        assert f"from {name}" in result.stdout


def test_a_resource_that_is_not_name_equals_value_is_a_usage_error(tmp_path: Path) -> None:
    result = cleanup("--state-dir", str(tmp_path), "--resource", "toxiproxy", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected NAME=VALUE" in result.stderr
    assert "Traceback" not in result.stderr
