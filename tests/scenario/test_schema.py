"""The committed JSON Schema is generated from the model and is never stale."""

import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from chaosgate.cli import main
from chaosgate.results import COMMITTED_RESULTS_SCHEMA, results_schema_text
from chaosgate.scenario.schema import COMMITTED_SCHEMA, scenario_schema, scenario_schema_text

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_up_to_date() -> None:
    assert COMMITTED_SCHEMA.exists(), "run `chaosgate schema --write` and commit the file"
    assert COMMITTED_SCHEMA.read_text() == scenario_schema_text(), (
        "chaosgate/schemas/scenario.schema.json is stale: run `chaosgate schema --write` and commit it"
    )


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(scenario_schema())


def test_schema_command_prints_the_schema(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == scenario_schema()


def test_every_bundled_scenario_satisfies_the_committed_schema_alone() -> None:
    """Editors use only the committed file: it must accept what chaosgate accepts."""
    validator = Draft202012Validator(json.loads(COMMITTED_SCHEMA.read_text()))
    files = sorted((ROOT / "scenarios").rglob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        for document in yaml.safe_load_all(path.read_text()):
            errors = [e.message for e in validator.iter_errors(document)]
            assert not errors, f"{path}: {errors}"


def test_fault_branches_close_each_injector_to_its_own_parameters() -> None:
    validator = Draft202012Validator(scenario_schema())
    base = {"id": "x", "title": "t"}
    good = {
        "injector": "toxiproxy",
        "proxy": "api",
        "for": "1s",
        "toxic": {"type": "latency", "attributes": {"latency": 5}},
    }
    assert not list(validator.iter_errors({**base, "faults": [good]}))
    foreign = {**good, "container": "db"}  # a docker parameter under toxiproxy
    assert list(validator.iter_errors({**base, "faults": [foreign]}))


def test_committed_results_schema_is_up_to_date() -> None:
    assert COMMITTED_RESULTS_SCHEMA.read_text() == results_schema_text(), (
        "chaosgate/schemas/results.schema.json is stale: run `chaosgate schema --results --write`"
    )
    Draft202012Validator.check_schema(json.loads(COMMITTED_RESULTS_SCHEMA.read_text()))
