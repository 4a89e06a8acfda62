"""results.json: the whole run, in the documented schema of :mod:`chaosgate.results`."""

from __future__ import annotations

from pathlib import Path

from chaosgate.engine.events import Event, RunFinished


class JsonReport:
    """Writes ``results.json`` when the run finishes."""

    filename = "results.json"

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / self.filename

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.path.write_text(
                event.result.model_dump_json(indent=2, by_alias=True) + "\n", encoding="utf-8"
            )

    def close(self) -> None:
        """Nothing is held open between events."""
