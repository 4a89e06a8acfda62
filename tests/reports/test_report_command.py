"""`chaosgate report` from a journal alone, including one a killed run left without its RunFinished."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chaosgate.coverage import Footprint, Touch
from chaosgate.engine.events import RunStarted, SampleTaken, ScenarioFinished, ScenarioStarted
from chaosgate.engine.journal import Journal, read_journal
from chaosgate.engine.samples import Sample
from chaosgate.results import FaultTimeline
from tests.reports.builders import scenario


def test_a_killed_runs_journal_is_rendered_from_its_finished_scenarios(tmp_path: Path) -> None:
    result = scenario("lat", p95=0.2, score=50, passed=False).model_copy(
        update={
            "faults": [
                FaultTimeline(
                    name="lag",
                    injector="toxiproxy",
                    description="latency",
                    planned_at=1,
                    planned_for=2,
                    injected_at=1.0,
                    reverted_at=3.0,
                )
            ]
        }
    )
    touch = Touch(None, (("GET", "/items"),), ("network: latency",))
    footprint = Footprint("lat", (("GET", "/items"),), {"lag": "network: latency"}, (touch,))
    journal = Journal(tmp_path / "journal.jsonl")
    journal.handle(RunStarted("r1", ("lat",), str(tmp_path)))
    journal.handle(ScenarioStarted("lat", "lat", (), footprint))
    for i in range(50):
        sample = Sample("probe", "GET /items", i * 0.1, 0.3 if 10 <= i < 30 else 0.01, 200, True)
        journal.handle(SampleTaken("lat", sample))
    journal.handle(ScenarioFinished("lat", result.status, result.score, result))
    journal.close()
    with (tmp_path / "journal.jsonl").open("a") as out:
        out.write('{"event": "SampleTak')  # the line the kill cut short

    contents = read_journal(tmp_path / "journal.jsonl")
    assert contents.scenarios == [result]
    assert contents.footprints == [footprint]
    assert contents.run is None

    done = subprocess.run(
        [sys.executable, "-m", "chaosgate", "report", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["verdict"]["decision"] == "no-go"
    assert results["verdict"]["reasons"][0] == "the run did not finish"
    html = (tmp_path / "report.html").read_text()
    assert 'id="chart-0"' in html
    assert "GET /items" in html
    assert "No-Go" in (tmp_path / "summary.md").read_text()
