"""Early warnings: a least-squares line over the last runs, projected to the threshold."""

from __future__ import annotations

from pathlib import Path

from chaosgate.history import History
from chaosgate.trends import early_warnings
from tests.reports.builders import run, scenario


def test_a_rising_p95_is_flagged_with_the_runs_left() -> None:
    runs = [run(i, scenario(p95=v)) for i, v in enumerate([0.060, 0.080, 0.100, 0.120])]
    (warning,) = early_warnings(runs)
    # +20 ms per run from 120 ms: 150 ms is crossed 1.5 runs later, so in 2 runs.
    assert warning.runs_left == 2
    assert warning.scenario == "lat"
    assert "projected to fail in 2 run(s)" in warning.text()
    assert "120ms" in warning.text()


def test_a_flat_or_falling_trend_raises_nothing() -> None:
    flat = [run(i, scenario(p95=v)) for i, v in enumerate([0.050, 0.051, 0.050, 0.049])]
    falling = [run(i, scenario(p95=v)) for i, v in enumerate([0.120, 0.100, 0.080])]
    assert early_warnings(flat) == []
    assert early_warnings(falling) == []


def test_two_runs_are_not_a_trend() -> None:
    assert early_warnings([run(0, scenario(p95=0.01)), run(1, scenario(p95=0.14))]) == []


def test_history_keeps_runs_in_order_and_ends_with_the_current_one(tmp_path: Path) -> None:
    history = History(tmp_path / "h")
    for i in (2, 0, 1):
        history.record(run(i))
    (tmp_path / "h" / "junk.json").write_text("{not json")
    current = run(5)
    assert [r.run_id for r in history.runs(until=current)] == ["run00", "run01", "run02", "run05"]
    assert [r.run_id for r in history.runs(until=run(1))] == ["run00", "run01"]
    assert [r.run_id for r in history.runs(last=2)] == ["run01", "run02"]
