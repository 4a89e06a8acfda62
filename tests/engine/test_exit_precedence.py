"""Exit-code precedence through the CLI on two-scenario runs (R2.5).

Each run puts two scenarios with different outcomes in one suite and checks
that the process exits with the stronger of the two — infrastructure (3) over
aborted (4) over No-Go (1) over Go (0) — that results.json names the scenario
that decided it and why, and that the other scenario kept its own result.
The four outcomes are made by real components, each in a few seconds: a
healthy demo service (Go), 3 s of Toxiproxy latency against a `p95 < 2s` gate
(No-Go), a steady state that asks for a page the service does not have
(aborted) and a target whose Toxiproxy server is not running (infrastructure).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chaosgate.ports import free_port
from tests.engine.conftest import RELAXED_SLA, Workspace

HEALTH = {"name": "health", "request": {"path": "/health", "timeout": "6s"}, "expect": {"status": 200}}
INJECTED_LATENCY_MS = 3000


def _scenario(ident: str, target: str = "demo", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": ident,
        "title": f"exit-code precedence: {ident}",
        "target": target,
        "steady_state": [HEALTH],
        "observe": "1s",
        "expect": {"before": [{"metric": "error_rate < 1%", "of": "health"}]},
        "sla": RELAXED_SLA,
    }
    data.update(extra)
    return data


def go() -> dict[str, Any]:
    return _scenario("pair-go")


def no_go() -> dict[str, Any]:
    return _scenario(
        "pair-no-go",
        faults=[
            {
                "name": "lag",
                "injector": "toxiproxy",
                "proxy": "api",
                "toxic": {"type": "latency", "attributes": {"latency": INJECTED_LATENCY_MS}},
                "at": "1s",
                "for": "4s",  # longer than the latency: a revert releases what is held back
            }
        ],
        expect={
            "before": [{"metric": "error_rate < 1%", "of": "health"}],
            "during": [{"metric": "p95 < 2s", "of": "health", "critical": True}],
        },
    )


def aborted() -> dict[str, Any]:
    missing = {"name": "health", "request": {"path": "/no-such-page"}, "expect": {"status": 200}}
    return _scenario("pair-aborted", steady_state=[missing])


def infrastructure() -> dict[str, Any]:
    return _scenario("pair-error", target="no-toxiproxy")


OUTCOMES: dict[int, tuple[Callable[[], dict[str, Any]], str]] = {
    0: (go, "passed"),
    1: (no_go, "failed"),
    4: (aborted, "aborted"),
    3: (infrastructure, "error"),
}
PRECEDENCE = (3, 4, 1, 0)


def _check_scenario(code: int, result: dict[str, Any], reasons: list[str]) -> None:
    """The scenario that was made to end with `code` says so, and why, in results.json."""
    ident = result["id"]
    if code == 0:
        assert result["score"] == 100.0, result
        assert not [r for r in reasons if r.startswith(f"{ident}:")], reasons
    elif code == 1:
        during = next(e for e in result["expectations"] if e["id"] == "during[0]")
        assert not during["passed"], during
        assert during["measured_value"] >= INJECTED_LATENCY_MS / 1000 * 0.9, during
        assert f"{ident}: critical expectation failed: " in "\n".join(reasons), reasons
    elif code == 4:
        assert "steady state did not hold" in result["reason"], result["reason"]
        assert "404" in result["reason"], result["reason"]
        assert any(r.startswith(f"{ident}: aborted: ") for r in reasons), reasons
    else:
        assert "toxiproxy" in result["reason"].lower(), result["reason"]
        assert any(r.startswith(f"{ident}: could not run: ") for r in reasons), reasons
    if code != 1:
        assert result["faults"] == [], result["faults"]


@pytest.mark.parametrize(
    ("first", "second"),
    [(0, 1), (4, 1), (0, 4), (3, 4), (0, 3), (1, 3), (4, 0)],
    ids=str,
)
def test_a_two_scenario_run_exits_with_the_stronger_code(
    workspace: Workspace, demo_service: str, first: int, second: int
) -> None:
    workspace.target(
        "no-toxiproxy",
        kind="url",
        base_url=demo_service,
        toxiproxy_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
    )
    made = []
    paths = []
    for code in (first, second):
        data = OUTCOMES[code][0]()
        paths.append(str(workspace.scenario(data["id"], data)))
        made.append((data["id"], code))
    expected = next(code for code in PRECEDENCE if code in (first, second))

    result = workspace.run("run", *paths, "--out", "out")

    assert result.returncode == expected, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    results = workspace.results()
    assert results["verdict"]["exit_code"] == expected
    assert results["verdict"]["decision"] == ("go" if expected == 0 else "no-go")
    by_id = {s["id"]: s for s in results["scenarios"]}
    assert set(by_id) == {ident for ident, _ in made}
    for ident, code in made:
        assert by_id[ident]["status"] == OUTCOMES[code][1], by_id[ident]
        _check_scenario(code, by_id[ident], results["verdict"]["reasons"])
    assert workspace.chaosgate_leftovers() == []


def test_a_fault_whose_backend_fails_mid_run_outranks_an_aborted_scenario(workspace: Workspace) -> None:
    """Infrastructure failing after the target came up (the container to pause is not there)
    is 3 too, ahead of the 4 of the other scenario, and nothing is left injected."""
    missing = f"chaosgate-test-absent-{free_port()}"
    broken = _scenario(
        "pair-backend-error",
        faults=[
            {
                "name": "freeze",
                "injector": "docker",
                "container": missing,
                "action": "pause",
                "at": "1s",
                "for": "1s",
            }
        ],
    )
    paths = [str(workspace.scenario(data["id"], data)) for data in (aborted(), broken)]

    result = workspace.run("run", *paths, "--out", "out")

    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    results = workspace.results()
    assert results["verdict"]["exit_code"] == 3
    by_id = {s["id"]: s for s in results["scenarios"]}
    assert by_id["pair-aborted"]["status"] == "aborted"
    assert by_id["pair-backend-error"]["status"] == "error", by_id["pair-backend-error"]
    assert missing in by_id["pair-backend-error"]["reason"], by_id["pair-backend-error"]["reason"]
    assert any(r.startswith("pair-backend-error: could not run: ") for r in results["verdict"]["reasons"])
    assert workspace.chaosgate_leftovers() == []
