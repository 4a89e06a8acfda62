"""What report.html and summary.md say about history: the trend chart and early warnings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from chaosgate.engine.events import RunFinished, RunStarted
from chaosgate.history import History
from reports.html.page import Inputs, render, scorecard
from reports.markdown import MarkdownReport
from tests.reports.builders import run, scenario


def rising(tmp_path: Path) -> tuple[History, list]:  # type: ignore[type-arg]
    history = History(tmp_path / "history")
    runs = [run(i, scenario(p95=v)) for i, v in enumerate([0.060, 0.080, 0.100, 0.120])]
    for earlier in runs[:-1]:
        history.record(earlier)
    return history, runs


def test_page_shows_the_trend_and_the_early_warning(tmp_path: Path) -> None:
    history, runs = rising(tmp_path)
    html = render(Inputs(runs[-1], pd.DataFrame(), history=history.runs(until=runs[-1])))
    assert 'id="chart-trend"' in html
    assert "Trend over the last 4 runs" in html
    assert "projected to fail in 2 run(s)" in html
    lone = render(Inputs(runs[-1], pd.DataFrame()))
    assert 'id="chart-trend"' not in lone
    assert "projected to fail" not in lone


def test_summary_flags_the_early_warning(tmp_path: Path) -> None:
    history, runs = rising(tmp_path)
    report = MarkdownReport(tmp_path)
    report.handle(RunStarted(runs[-1].run_id, ("lat",), str(tmp_path), str(history.folder)))
    report.handle(RunFinished(runs[-1]))
    text = (tmp_path / "summary.md").read_text()
    assert "## ⚠️ Early warnings" in text
    assert "`latency p95` measured 120ms and trending toward p95 < 150ms over the last 4 runs" in text


def test_scorecard_reports_the_worst_scenario_per_gate() -> None:
    result = run(0, scenario("fast", p95=0.010), scenario("slow", p95=0.200, passed=False))
    (row,) = scorecard(result)
    assert (row.name, row.measured, row.worst_in, row.passed, row.applicable) == (
        "latency p95",
        "200ms",
        "slow",
        1,
        2,
    )
    assert not row.ok


def test_stream_verdicts_are_shown_in_their_units() -> None:
    streams = {
        "events": {
            "lost": 2.0,
            "duplicated": 0.0,
            "reordered": 0.0,
            "replay_accuracy": 0.95,
            "reconnect": 1.5,
        },
        "calm": {"lost": 0.0, "duplicated": 0.0, "reordered": 0.0, "replay_accuracy": 1.0, "reconnect": None},
    }
    result = run(0, scenario("ws").model_copy(update={"streams": streams}))
    html = render(Inputs(result, pd.DataFrame()))
    assert "<td>95%</td>" in html
    assert "<td>1.5 s</td>" in html
    assert html.count("events lost, repeated or out of order") == 1
    assert '<td class="result">intact</td>' in html
