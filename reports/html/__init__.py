"""report.html: one self-contained page a manager reads to decide whether to release (R7.1).

The writer is a handler like the other reports. It renders when the run
finishes, from the run folder alone — the journal's samples, the target's
OpenAPI document if the run kept one, and the history folder the run named —
so `chaosgate report RUN_DIR` renders the same page later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaosgate.engine.events import Event, RunFinished, RunStarted
from chaosgate.engine.journal import read_journal
from chaosgate.history import History
from chaosgate.results import RunResult
from reports.html.aggregate import per_second, read_samples
from reports.html.page import Inputs, render

JOURNAL = "journal.jsonl"
OPENAPI = "openapi.json"


def _openapi(folder: Path) -> dict[str, Any] | None:
    path = folder / OPENAPI
    if not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    return document if isinstance(document, dict) else None


def render_run(run: RunResult, run_dir: Path, history_dir: Path | None) -> str:
    """The page for `run`, from what `run_dir` holds."""
    journal = run_dir / JOURNAL
    if journal.is_file():
        buckets = per_second(read_samples(journal))
        footprints = read_journal(journal).footprints
    else:
        buckets, footprints = per_second(read_samples(Path("/dev/null"))), []
    history = History(history_dir).runs(until=run) if history_dir else [run]
    return render(Inputs(run, buckets, footprints, _openapi(run_dir), history))


class HtmlReport:
    """Writes ``report.html`` when the run finishes."""

    filename = "report.html"

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / self.filename
        self._run_dir = out_dir
        self._history: Path | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._run_dir = Path(event.out_dir)
            self._history = Path(event.history_dir) if event.history_dir else None
        elif isinstance(event, RunFinished) and isinstance(event.result, RunResult):
            self.path.write_text(render_run(event.result, self._run_dir, self._history), encoding="utf-8")

    def close(self) -> None:
        """Nothing is held open between events."""
