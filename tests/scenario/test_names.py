"""Names outside a scenario's file are resolved by `validate`: targets, SLA profiles, gates, `${env.X}`."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosgate.cli import main

TOKEN = "CHAOSGATE_TEST_TOKEN"

NAMES = """\
id: names
title: Every name resolved before anything runs
target: demo
sla: default
steady_state:
  - name: health
    request:
      method: GET
      path: /health/${env.CHAOSGATE_TEST_TOKEN}
    expect: {status: 200}
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a `demo` target file, the environment variable set, as cwd."""
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "demo.yaml").write_text("kind: url\nbase_url: http://127.0.0.1:9\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(TOKEN, "secret")
    return tmp_path


def validate(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, str]:
    code = main(["validate", *map(str, paths)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def scenario(folder: Path, text: str = NAMES, name: str = "names.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_scenario_whose_names_all_resolve_is_valid(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = validate(capsys, scenario(workdir))
    assert code == 0, out


def test_an_unset_env_reference_is_located_and_explained(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN)
    path = scenario(workdir)
    code, out = validate(capsys, path)
    assert code == 2
    assert f"{path}:9:13: error: environment variable `{TOKEN}` is not set" in out
    assert "${env.CHAOSGATE_TEST_TOKEN:-value}" in out
    assert "Traceback" not in out


def test_a_misspelt_env_name_suggests_the_variable_that_is_set(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(workdir, NAMES.replace("${env.CHAOSGATE_TEST_TOKEN}", "${env.CHAOSGATE_TEST_TOKNE}"))
    code, out = validate(capsys, path)
    assert code == 2
    assert f"{path}:9:13:" in out
    assert f"did you mean `{TOKEN}`?" in out


def test_an_env_reference_with_a_default_needs_no_variable(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN)
    path = scenario(
        workdir, NAMES.replace("${env.CHAOSGATE_TEST_TOKEN}", "${env.CHAOSGATE_TEST_TOKEN:-anon}")
    )
    code, out = validate(capsys, path)
    assert code == 0, out


@pytest.mark.parametrize(
    ("sla", "where"),
    [("sla: defualt", "4:6"), ("sla:\n  profile: defualt", "5:12"), ("sla: {profile: defualt}", "4:16")],
)
def test_a_misspelt_sla_profile_is_located_with_the_closest_name(
    workdir: Path, capsys: pytest.CaptureFixture[str], sla: str, where: str
) -> None:
    path = scenario(workdir, NAMES.replace("sla: default", sla))
    code, out = validate(capsys, path)
    assert code == 2
    assert f"{path}:{where}: error: no SLA profile `defualt`" in out
    assert "did you mean `default`?" in out


def test_a_misspelt_target_is_located_with_the_closest_name(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(workdir, NAMES.replace("target: demo", "target: dmeo"))
    code, out = validate(capsys, path)
    assert code == 2
    assert f"{path}:3:9: error: no target `dmeo`" in out
    assert "did you mean `demo`?" in out


def test_a_target_file_with_errors_is_an_error_in_both_files(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = workdir / "targets" / "broken.yaml"
    broken.write_text("kind: url\nbase_url: 42\nproxi: false\n")
    path = scenario(workdir, NAMES.replace("target: demo", "target: broken"))
    code, out = validate(capsys, path)
    assert code == 2
    assert f"{path}:3:9: error: target `broken`" in out
    assert f"{broken}:2:11:" in out  # a wrong value, in the target file itself
    assert f"{broken}:3:1: error: unknown key `proxi`" in out
    assert "did you mean `proxy`?" in out
    broken.write_text("kind: ulr\nbase_url: http://127.0.0.1:9\n")
    code, out = validate(capsys, path)
    assert code == 2
    assert f"{broken}:1:7: error: unknown target kind `ulr`" in out
    assert "did you mean `url`?" in out


def test_a_misspelt_waived_gate_is_located_with_the_closest_name(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario(workdir, NAMES.replace("sla: default", "sla:\n  waive: [thruput]"))
    code, out = validate(capsys, path)
    assert code == 2
    assert f"{path}:5:11: error: SLA profile `default` has no gate `thruput` to waive" in out
    assert "did you mean `throughput`?" in out
    code, out = validate(
        capsys, scenario(workdir, NAMES.replace("sla: default", "sla:\n  waive: [throughput]"))
    )
    assert code == 0, out


def test_every_name_problem_in_every_file_is_listed_at_once(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN)
    broken = workdir / "targets" / "broken.yaml"
    broken.write_text("kind: url\nbase_ur: http://127.0.0.1:9\n")
    one = NAMES.replace("target: demo", "target: broken").replace("sla: default", "sla:\n  waive: [thruput]")
    two = one.replace("id: names", "id: names-two")
    first, second = scenario(workdir, one, "one.yaml"), scenario(workdir, two, "two.yaml")
    code, out = validate(capsys, first, second)
    assert code == 2
    for path in (first, second):
        assert f"{path}:3:9: error: target `broken`" in out
        assert f"{path}:5:11: error: SLA profile `default` has no gate `thruput`" in out
        assert f"{path}:10:13: error: environment variable `{TOKEN}` is not set" in out
    # The target file's own error is reported once, not once per scenario naming it.
    assert out.count(f"{broken}:2:1:") == 1
    assert "did you mean `base_url`?" in out
    assert "7 error(s) in 2 file(s)" in out
