"""The release gate itself: the scenario library against the healthy reference stack is Go.

This is the command a pipeline runs (`chaosgate run scenarios/ [--quick]`), end to end, through
the CLI: the target comes up, every scenario runs in turn with its faults, and the verdict gates.
`--quick` must give the same verdict as the full run on a healthy stack (R2.6), so the default
test run includes it; the full library is the `slow` suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaosgate.scenario.loader import load_paths

ROOT = Path(__file__).resolve().parents[1]


def _run_library(tmp_path: Path, *extra: str, timeout: float) -> tuple[subprocess.CompletedProcess[str], Any]:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "chaosgate", "run", str(ROOT / "scenarios"), "--out", str(out), *extra],
        cwd=ROOT,
        env={**os.environ, "CHAOSGATE_STATE_DIR": str(tmp_path / "state")},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else None
    return result, results


def _assert_go(result: subprocess.CompletedProcess[str], results: Any) -> None:
    assert results is not None, result.stderr[-3000:]
    # Container scenarios need the docker runtime; on the process runtime they say why they did not run.
    skipped = {s["id"]: s["reason"] for s in results["scenarios"] if s["status"] == "skipped"}
    assert all("publishes no container:" in reason for reason in skipped.values()), skipped
    failing = {
        s["id"]: s["reason"] or [e["name"] for e in s["expectations"] if e["applicable"] and not e["passed"]]
        for s in results["scenarios"]
        if s["status"] not in ("passed", "skipped")
    }
    assert failing == {}, result.stderr[-3000:]
    assert results["verdict"] == {"decision": "go", "exit_code": 0, "reasons": []}
    assert result.returncode == 0
    library = load_paths([ROOT / "scenarios"])
    assert sorted(s["id"] for s in results["scenarios"]) == sorted(s.scenario.id for s in library)
    # Every scenario that ran waited for the target first (a skipped one never got that far).
    assert all(s["settle_seconds"] is not None for s in results["scenarios"] if s["status"] != "skipped")
    assert "Traceback" not in result.stderr


def test_the_library_with_quick_is_go_on_the_healthy_reference(tmp_path: Path) -> None:
    result, results = _run_library(tmp_path, "--quick", timeout=600)
    _assert_go(result, results)


@pytest.mark.slow
def test_the_full_library_is_go_on_the_healthy_reference(tmp_path: Path) -> None:
    result, results = _run_library(tmp_path, timeout=1800)
    _assert_go(result, results)
