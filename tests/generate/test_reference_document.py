"""Generating from the reference's OpenAPI document: every operation × fault class, all valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.generate.conftest import chaosgate, scenarios_in

API_CLASSES = ["latency", "timeout", "reset", "bandwidth", "slicer", "down"]
DEPENDENCY_CLASSES = ["latency", "timeout", "down"]


@pytest.fixture(scope="module")
def generated(reference_openapi: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("generated")
    result = chaosgate(cwd, "generate", "--openapi", str(reference_openapi), "--out", "out")
    assert result.returncode == 0, result.stderr
    assert "CHAOSGATE_CLIENT_ID" in result.stdout
    return cwd / "out"


def _operations(document: Path) -> list[tuple[str, str]]:
    paths = json.loads(document.read_text())["paths"]
    return [
        (m.upper(), p) for p, item in paths.items() for m in item if m in ("get", "post", "put", "delete")
    ]


def test_every_file_validates_and_there_is_one_per_operation_and_fault_class(
    generated: Path, reference_openapi: Path
) -> None:
    operations = _operations(reference_openapi)
    files = scenarios_in(generated)
    classes = len(API_CLASSES) + 2 * len(DEPENDENCY_CLASSES)
    assert len(files) == len(operations) * classes
    assert sum(1 for f in files if f.startswith("network/")) == len(operations) * len(API_CLASSES)
    assert sum(1 for f in files if f.startswith("postgres/")) == len(operations) * 3
    assert sum(1 for f in files if f.startswith("redis/")) == len(operations) * 3
    assert len({str(s["id"]) for s in files.values()}) == len(files)
    first_lines = {p.read_text().splitlines()[0] for p in generated.rglob("*.yaml")}
    assert all(line.startswith("# yaml-language-server: $schema=") for line in first_lines)
    assert all(line.endswith("chaosgate/schemas/scenario.schema.json") for line in first_lines)

    validated = chaosgate(generated.parent, "validate", "out")
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert f"{len(files)} scenario(s) in {len(files)} file(s) valid" in validated.stdout


def test_coverage_sees_each_cell_covered_by_exactly_one_generated_scenario(
    generated: Path, reference_openapi: Path
) -> None:
    result = chaosgate(generated.parent, "coverage", "out", "--openapi", str(reference_openapi), "--json")
    assert result.returncode == 0, result.stderr
    matrix = json.loads(result.stdout)
    expected = {f"network: {c}" for c in API_CLASSES} | {
        f"{d}: {c}" for d in ("postgres", "redis") for c in DEPENDENCY_CLASSES
    }
    assert set(matrix["fault_classes"]) == expected
    assert matrix["uncovered"] == []
    documented = [op for op in matrix["operations"] if op["in_openapi"]]
    assert len(documented) == len(_operations(reference_openapi))
    for operation in documented:
        assert set(operation["cells"]) == expected, operation["path"]
        for cell in operation["cells"].values():
            assert len({cover["scenario"] for cover in cell}) == 1, (operation["path"], cell)


def _scenario(generated: Path, name: str) -> dict[str, Any]:
    files = scenarios_in(generated)
    data = files[name]
    assert isinstance(data, dict)
    return data


def _probe(data: dict[str, Any], name: str = "operation") -> dict[str, Any]:
    probe: dict[str, Any] = next(p for p in data["probes"] if p["name"] == name)
    return probe


def test_a_resource_operation_gets_a_token_a_created_resource_and_its_documented_answers(
    generated: Path,
) -> None:
    data = _scenario(generated, "postgres/get-api-v1-agents-agent-id-postgres-down.yaml")
    token, agent = data["setup"]
    assert token["request"]["path"] == "/api/v1/auth/token"
    assert token["request"]["json"] == {
        "client_id": "${env.CHAOSGATE_CLIENT_ID:-change-me}",
        "client_secret": "${env.CHAOSGATE_CLIENT_SECRET:-change-me}",
    }
    assert agent["request"]["path"] == "/api/v1/agents"
    assert agent["expect"] == {"json": {"$.id": {"exists": True}}, "status": [201, 202]}
    probe = _probe(data)
    assert probe["request"]["path"] == "/api/v1/agents/${setup.agent.id}"
    assert probe["request"]["headers"] == {"Authorization": "Bearer ${setup.token.access_token}"}
    assert probe["expect"]["status"] == 200
    assert probe["expect"]["headers"] == {"X-Data-Freshness": "present"}  # `Age` is not required
    assert {"$.id", "$.name", "$.status"} <= set(probe["expect"]["json"])
    degraded = _probe(data, "operation_degraded")["expect"]
    assert degraded["status"] == [200, 503]
    assert "headers" not in degraded  # X-Data-Freshness is not declared on the 503
    assert degraded["json"]["$['id','error']"] == {"exists": True}
    assert data["teardown"] == [
        {
            "method": "DELETE",
            "path": "/api/v1/agents/${setup.agent.id}",
            "headers": {"Authorization": "Bearer ${setup.token.access_token}"},
        }
    ]
    during = data["expect"]["during"][0]
    assert during["of"] == "operation_degraded"
    assert during["critical"] is True


def test_path_faults_judge_detection_and_recovery_and_slowdowns_judge_the_answer(generated: Path) -> None:
    down = _scenario(generated, "network/get-api-v1-agents-network-down.yaml")
    assert down["faults"][0] | {"at": None, "for": None} == {
        "name": "network-down",
        "injector": "toxiproxy",
        "proxy": "api",
        "down": True,
        "at": None,
        "for": None,
    }
    assert [e["metric"] for e in down["expect"]["during"]] == ["detect < 2s"]
    assert [e["metric"] for e in down["expect"]["after"]] == ["recover < 5s", "availability >= 99%"]
    latency = _scenario(generated, "network/get-api-v1-agents-network-latency.yaml")
    assert latency["faults"][0]["toxic"] == {"type": "latency", "attributes": {"latency": 300}}
    assert latency["expect"]["during"][0]["metric"] == "availability >= 99%"
    assert latency["expect"]["during"][0]["of"] == "operation"
    assert len(latency["probes"]) == 1


def test_statuses_bodies_and_placeholders_come_from_the_document(generated: Path) -> None:
    create = _probe(_scenario(generated, "network/post-api-v1-agents-network-latency.yaml"))
    assert create["expect"]["status"] == [201, 202]
    assert create["request"]["json"] == {"name": "example"}  # required field, pattern respected
    assert create["every"] == "500ms"  # a write is repeated less often
    delete = _scenario(generated, "network/delete-api-v1-agents-agent-id-network-latency.yaml")
    assert _probe(delete)["expect"]["status"] == [204, 404]
    assert "teardown" not in delete  # the operation under test deletes the resource itself
    policy = _probe(_scenario(generated, "network/put-api-v1-policies-policy-id-network-latency.yaml"))
    assert policy["request"]["path"] == "/api/v1/policies/${env.POLICY_ID:-lockdown-external-access}"
    assert policy["request"]["json"] == {"mode": "auto"}
    health = _scenario(generated, "redis/get-api-v1-system-health-redis-down.yaml")
    assert "setup" not in health
    assert "headers" not in _probe(health)["request"]
    assert _probe(health, "operation_degraded")["expect"]["status"] == [200, 503]


def test_faults_option_selects_classes_and_names_unknown_ones(
    reference_openapi: Path, tmp_path: Path
) -> None:
    result = chaosgate(
        tmp_path,
        "generate",
        "--openapi",
        str(reference_openapi),
        "--out",
        "out",
        "--faults",
        "latency,redis:down",
    )
    assert result.returncode == 0, result.stderr
    folders = sorted({p.parent.name for p in (tmp_path / "out").rglob("*.yaml")})
    assert folders == ["network", "postgres", "redis"]
    kinds = sorted(
        {
            p.stem.rsplit("-", 2)[-2] + "-" + p.stem.rsplit("-", 1)[-1]
            for p in (tmp_path / "out").rglob("*.yaml")
        }
    )
    assert kinds == ["network-latency", "postgres-latency", "redis-down", "redis-latency"]

    unknown = chaosgate(
        tmp_path, "generate", "--openapi", str(reference_openapi), "--out", "x", "--faults", "latncy"
    )
    assert unknown.returncode == 2
    assert "no fault class `latncy`" in unknown.stderr
    assert "did you mean `latency`?" in unknown.stderr
    assert not (tmp_path / "x").exists()
