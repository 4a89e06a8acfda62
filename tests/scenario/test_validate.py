"""`chaosgate validate`: every error names file:line:col, the lines, the fix; exit 2; no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from chaosgate.cli import main
from chaosgate.scenario.loader import load_paths

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"

VALID = """\
id: sample
title: A sample scenario
tags: [rest]
steady_state:
  - request: {method: GET, path: /api/v1/system/health}
    expect: {status: 200}
faults:
  - name: lag
    injector: toxiproxy
    proxy: api
    toxic: {type: latency, attributes: {latency: 100}}
    at: 1s
    for: 2s
expect:
  during:
    - metric: p95 < 150ms
"""


def run_validate(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, str]:
    code = main(["validate", *map(str, paths)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_scenarios_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_validate(capsys, SCENARIOS)
    assert code == 0, out
    assert len(load_paths([SCENARIOS])) >= 3


def test_valid_sample_loads_into_frozen_typed_objects(tmp_path: Path) -> None:
    (loaded,) = load_paths([write(tmp_path, VALID)])
    scenario = loaded.scenario
    assert scenario.faults[0].at == 1.0
    assert scenario.faults[0].for_ == 2.0
    assert loaded.fault_params[0].model_dump()["proxy"] == "api"
    assert str(scenario.expect.during[0].metric) == "p95 < 150ms"  # type: ignore[union-attr]
    with pytest.raises(Exception, match="frozen"):
        scenario.id = "other"  # type: ignore[misc]


def test_misspelt_key_names_line_and_suggests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID.replace("title:", "titel:"))
    code, out = run_validate(capsys, path)
    assert code == 2
    assert f"{path}:2:1:" in out
    assert "unknown key `titel`" in out
    assert "did you mean `title`?" in out
    assert "> 2 | titel: A sample scenario" in out
    # `title` is missing only because it was misspelt: the suggestion explains it once.
    assert "missing required key `title`" not in out


def test_yaml_syntax_error_names_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID.replace("tags: [rest]", "tags: [rest"))
    code, out = run_validate(capsys, path)
    assert code == 2
    assert "YAML syntax error" in out
    assert f"{path}:4:" in out or f"{path}:3:" in out


def test_wrong_type_names_line_and_expected_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID.replace("tags: [rest]", "tags: rest"))
    code, out = run_validate(capsys, path)
    assert code == 2
    assert f"{path}:3:7:" in out
    assert "wrong type: got a string" in out
    assert "expected: a list" in out


def test_unknown_injector_parameter_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID.replace("    proxy: api", "    proxi: api"))
    code, out = run_validate(capsys, path)
    assert code == 2
    assert f"{path}:10:5:" in out
    assert "unknown key `proxi`" in out
    assert "did you mean `proxy`?" in out


def test_unknown_toxic_attribute_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID.replace("{latency: 100}", "{latncy: 100}"))
    code, out = run_validate(capsys, path)
    assert code == 2
    assert f"{path}:11:" in out
    assert "`latncy`" in out
    assert "did you mean `latency`?" in out


def test_unknown_injector_suggests_the_closest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID.replace("injector: toxiproxy", "injector: toxyproxy"))
    code, out = run_validate(capsys, path)
    assert code == 2
    assert f"{path}:9:" in out
    assert "did you mean `toxiproxy`?" in out


def test_bad_threshold_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, VALID.replace("p95 < 150ms", "p95 < 150"))
    code, out = run_validate(capsys, path)
    assert code == 2
    assert f"{path}:16:" in out
    assert "give a unit" in out


def test_undefined_setup_reference_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, VALID.replace("path: /api/v1/system/health}", 'path: "/api/v1/agents/${setup.agent.id}"}')
    )
    code, out = run_validate(capsys, path)
    assert code == 2
    assert f"{path}:5:" in out
    assert "setup step `agent`" in out


def test_duplicate_keys_and_ids_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dup = write(tmp_path, VALID.replace("tags: [rest]", "tags: [rest]\ntags: [x]"), "dup.yaml")
    code, out = run_validate(capsys, dup)
    assert code == 2
    assert f"{dup}:4:1:" in out
    assert "duplicate key `tags`" in out
    other = tmp_path / "more"
    other.mkdir()
    write(other, VALID, "a.yaml")
    write(other, VALID, "b.yaml")
    code, out = run_validate(capsys, other)
    assert code == 2
    assert "duplicate scenario id `sample`" in out


def test_every_error_in_every_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, VALID.replace("title:", "titel:"), "one.yaml")
    write(tmp_path, VALID.replace("id: sample", "id: other").replace("tags: [rest]", "tags: 3"), "two.yaml")
    code, out = run_validate(capsys, tmp_path)
    assert code == 2
    assert "one.yaml:2:1" in out
    assert "two.yaml:3:7" in out


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_validate(capsys, tmp_path / "nope")
    assert code == 2
    assert "no such file or folder" in out


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "id: [unclosed\n\x00")
    result = subprocess.run(
        [sys.executable, "-m", "chaosgate", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr
