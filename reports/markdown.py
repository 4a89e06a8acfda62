"""summary.md: the verdict, early warnings from the trend of earlier runs, and a table per scenario,
for a PR comment or a CI step summary."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from chaosgate.engine.events import Event, RunFinished, RunStarted
from chaosgate.history import History
from chaosgate.results import RunResult
from chaosgate.trends import EarlyWarning, early_warnings

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def _cell(text: str) -> str:
    """Target-supplied text in a table cell: no pipes, no line breaks, no HTML tags."""
    return _TAG_START.sub("&lt;", text.replace("|", "\\|").replace("\n", " "))


def render(run: RunResult, warnings: Sequence[EarlyWarning] = ()) -> str:
    icon = "✅ Go" if run.verdict.decision == "go" else "❌ No-Go"
    lines = [
        f"# chaosgate: {icon}",
        "",
        f"Resilience score **{run.score:g}** (grade {run.grade}, minimum {run.min_score:g}, "
        f"SLA profile `{run.sla_profile}`), {len(run.scenarios)} scenario(s) in {run.duration:.0f}s.",
        "",
    ]
    if run.categories:
        lines += ["| category | score |", "|---|---|"]
        lines += [f"| {name} | {score:g} |" for name, score in run.categories.items()]
        lines.append("")
    if run.verdict.reasons:
        lines += ["## Why not Go", ""] + [f"- {_cell(reason)}" for reason in run.verdict.reasons] + [""]
    if warnings:
        lines += ["## ⚠️ Early warnings", ""] + [f"- {_cell(w.text())}" for w in warnings] + [""]
    lines += ["## Scenarios", "", "| scenario | status | score | failed |", "|---|---|---|---|"]
    for s in run.scenarios:
        failed = [e for e in s.expectations if e.applicable and not e.passed]
        lines.append(f"| `{s.id}` {_cell(s.title)} | {s.status} | {s.score:g} ({s.grade}) | {len(failed)} |")
    waived = {s.id: [e.name for e in s.expectations if e.waived] for s in run.scenarios}
    if any(waived.values()):
        lines += ["", "SLA gates waived by their scenario (not judged, not counted):", ""]
        lines += [f"- `{sid}`: {_cell(', '.join(names))}" for sid, names in waived.items() if names]
    for s in run.scenarios:
        failed = [e for e in s.expectations if e.applicable and not e.passed]
        if not failed and s.status not in ("aborted", "error"):
            continue
        lines += ["", f"### `{s.id}`", ""]
        if s.status in ("aborted", "error"):
            lines.append(f"{s.status}: {_cell(s.reason)}")
            continue
        lines += ["| expectation | window | measured | threshold | why |", "|---|---|---|---|---|"]
        for e in failed:
            mark = " (critical)" if e.critical else ""
            lines.append(
                f"| {_cell(e.name)}{mark} | {e.window} | {_cell(e.measured or '-')} | "
                f"{_cell(e.threshold or '-')} | {_cell(e.reason)} |"
            )
    return "\n".join(lines) + "\n"


class MarkdownReport:
    """Writes ``summary.md`` when the run finishes."""

    filename = "summary.md"

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / self.filename
        self._history: History | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted) and event.history_dir:
            self._history = History(Path(event.history_dir))
        elif isinstance(event, RunFinished) and isinstance(event.result, RunResult):
            runs = self._history.runs(until=event.result) if self._history else [event.result]
            self.path.write_text(render(event.result, early_warnings(runs)), encoding="utf-8")

    def close(self) -> None:
        """Nothing is held open between events."""
