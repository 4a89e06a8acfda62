"""junit.xml, summary.md and results.json from one RunResult; target text is escaped."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from chaosgate.engine.events import RunFinished
from chaosgate.results import ExpectationResult, RunResult, ScenarioResult, Verdict
from reports.json_report import JsonReport
from reports.junit import JUnitReport
from reports.markdown import MarkdownReport, render

HOSTILE = "<script>alert(1)</script> | \n row"


def run_result() -> RunResult:
    expectations = [
        ExpectationResult(
            id="during[0]",
            kind="metric",
            window="during",
            name="p95 < 150ms",
            weight=2,
            critical=True,
            passed=False,
            measured="312ms",
            measured_value=0.312,
            threshold="p95 < 150ms",
            reason=f"measured 312ms; body said {HOSTILE}",
        ),
        ExpectationResult(
            id="before[0]",
            kind="metric",
            window="before",
            name="p95 < 150ms",
            weight=1,
            critical=False,
            passed=True,
            measured="12ms",
            threshold="p95 < 150ms",
        ),
        ExpectationResult(
            id="sla:throughput",
            kind="sla",
            window="steady",
            name="throughput",
            weight=1,
            critical=False,
            passed=True,
            applicable=False,
            reason="not applicable",
        ),
    ]
    scenarios = [
        ScenarioResult(
            id="lat",
            title=f"latency {HOSTILE}",
            category="network",
            weight=1,
            file="a.yaml:1:1",
            status="failed",
            score=33.33,
            grade="F",
            duration=9.5,
            expectations=expectations,
        ),
        ScenarioResult(
            id="ab",
            title="aborted one",
            category="container",
            weight=1,
            file="b.yaml:1:1",
            status="aborted",
            score=0,
            grade="F",
            duration=1,
            reason="steady state did not hold",
        ),
    ]
    return RunResult(
        run_id="r1",
        started_at="2026-01-01T00:00:00",
        finished_at="2026-01-01T00:00:10",
        duration=10,
        sla_profile="default",
        min_score=90,
        score=16.67,
        grade="F",
        categories={"container": 0, "network": 33.33},
        verdict=Verdict(decision="no-go", exit_code=4, reasons=["lat: critical expectation failed"]),
        scenarios=scenarios,
    )


def test_junit_has_one_testcase_per_expectation(tmp_path: Path) -> None:
    report = JUnitReport(tmp_path)
    report.handle(RunFinished(run_result()))
    root = ET.parse(tmp_path / "junit.xml").getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["lat", "ab"]
    cases = suites[0].findall("testcase")
    assert len(cases) == 3
    failure = cases[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "measured 312ms; threshold p95 < 150ms"
    assert cases[2].find("skipped") is not None
    assert suites[1].find("testcase/error") is not None


def test_markdown_escapes_target_text(tmp_path: Path) -> None:
    text = render(run_result())
    assert "<script>" not in text
    assert "&lt;script>" in text
    assert "p95 < 150ms" in text
    assert "❌ No-Go" in text
    MarkdownReport(tmp_path).handle(RunFinished(run_result()))
    assert (tmp_path / "summary.md").read_text() == text


def test_results_json_round_trips(tmp_path: Path) -> None:
    JsonReport(tmp_path).handle(RunFinished(run_result()))
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema"] == "chaosgate.results/1"
    assert RunResult.model_validate(data) == run_result()
