"""Earlier runs, kept so reports can show trends and runs can be compared (R6.4).

Each finished run is stored as its results.json under the history folder,
named so that file order is run order: ``<started_at>_<run_id>.json``. The
default folder is ``.chaosgate-history`` next to the out folder, so that
``--out out`` every time still accumulates history; ``--history DIR``
chooses another.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from chaosgate.engine.events import Event, RunFinished
from chaosgate.exceptions import UsageError
from chaosgate.results import RunResult

DEFAULT_NAME = ".chaosgate-history"
TREND_RUNS = 10


def default_history_dir(out_dir: Path) -> Path:
    return out_dir.resolve().parent / DEFAULT_NAME


def _stamp(run: RunResult) -> str:
    return "".join(ch for ch in run.started_at if ch.isdigit())[:20]


def load_result(path: Path) -> RunResult:
    """A stored run: a results.json, a run folder holding one, or a history entry."""
    file = path / "results.json" if path.is_dir() else path
    try:
        return RunResult.model_validate_json(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"{file}: cannot read a run's results: {error.strerror or error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{file}: not a chaosgate results file ({where}: {first['msg']})") from None


class History:
    """The runs stored in one folder, oldest first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def record(self, run: RunResult) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{_stamp(run)}_{run.run_id}.json"
        path.write_text(run.model_dump_json(by_alias=True) + "\n", encoding="utf-8")
        return path

    def runs(self, *, last: int = TREND_RUNS, until: RunResult | None = None) -> list[RunResult]:
        """The last `last` runs, ending with `until` (which need not be stored yet).

        A file that is not a run (edited by hand, an older format) is skipped: a
        trend with one point fewer is better than no report.
        """
        runs: list[RunResult] = []
        files = sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []
        for file in files:
            try:
                run = RunResult.model_validate_json(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if until is not None and (run.run_id == until.run_id or _stamp(run) > _stamp(until)):
                continue
            runs.append(run)
        if until is not None:
            runs.append(until)
        return runs[-last:]


def history_from_started(record: dict[str, object]) -> History | None:
    """The history a journal's RunStarted record names, if any."""
    folder = record.get("history_dir")
    return History(Path(str(folder))) if folder else None


class HistoryRecorder:
    """Stores the run in the history folder when it finishes (a handler, isolated like the reports)."""

    def __init__(self, folder: Path) -> None:
        self.history = History(folder)
        self.path = folder

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished) and isinstance(event.result, RunResult):
            self.path = self.history.record(event.result)

    def close(self) -> None:
        """Nothing is held open between events."""
