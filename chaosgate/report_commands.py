"""`report`, `compare` and `coverage`: sub-commands that read stored runs and scenarios, never a system."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chaosgate.baseline import Tolerance, compare, regressions
from chaosgate.coverage import Matrix, build_matrix, footprint, load_openapi
from chaosgate.engine.events import EventHandler, RunFinished, RunStarted
from chaosgate.engine.journal import JournalContents, read_journal
from chaosgate.evaluation.scoring import grade, suite_scores, verdict
from chaosgate.exceptions import UsageError
from chaosgate.exitcodes import ExitCode
from chaosgate.history import load_result
from chaosgate.plugins import reporter_factories
from chaosgate.results import RunResult
from chaosgate.scenario.loader import load_paths
from chaosgate.unexpected import describe

DEFAULT_MIN_SCORE = 90.0


def _run_of(journal: Path, contents: JournalContents) -> RunResult:
    """The run as its RunFinished record says, or rebuilt from its finished scenarios (a killed run)."""
    if contents.run is not None:
        return contents.run
    if not contents.scenarios:
        raise UsageError(f"{journal}: no finished scenario to report on")
    score, categories = suite_scores(contents.scenarios)
    decision = verdict(contents.scenarios, score, DEFAULT_MIN_SCORE)
    decision = decision.model_copy(
        update={"decision": "no-go", "reasons": ["the run did not finish", *decision.reasons]}
    )
    return RunResult(
        run_id=str(contents.run_started.get("run_id", journal.parent.name)),
        started_at="",
        finished_at="",
        duration=sum(s.duration for s in contents.scenarios),
        sla_profile="default",
        min_score=DEFAULT_MIN_SCORE,
        score=score,
        grade=grade(score),
        categories=categories,
        verdict=decision,
        scenarios=contents.scenarios,
    )


def cmd_report(args: argparse.Namespace) -> int:
    """Render every report again from RUN_DIR/journal.jsonl, into RUN_DIR (or --out)."""
    run_dir = Path(args.run_dir)
    journal = run_dir / "journal.jsonl"
    if not journal.is_file():
        raise UsageError(f"{run_dir}: no journal.jsonl here; give the --out folder of a run")
    contents = read_journal(journal)
    run = _run_of(journal, contents)
    out_dir = Path(args.out) if args.out else run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    started = contents.run_started
    history = started.get("history_dir")
    start = RunStarted(run.run_id, tuple(s.id for s in run.scenarios), str(run_dir), history)
    factories, problems = reporter_factories()
    written = []
    for name, factory in factories.items():
        handler: EventHandler | None = None
        try:
            handler = factory(out_dir)
            handler.handle(start)
            handler.handle(RunFinished(run))
            handler.close()
        except Exception as error:  # noqa: BLE001 - one broken writer never stops the others
            path = getattr(handler, "path", None) or f"the output of `{name}`"
            problems.append(f"report writer `{name}` failed ({describe(error)}): {path} is missing")
            continue
        written.append(str(getattr(handler, "path", name)))
    for path in written:
        print(f"wrote {path}")
    for problem in problems:
        print(f"chaosgate: {problem}", file=sys.stderr)
    return int(ExitCode.INFRASTRUCTURE if problems else ExitCode.GO)


def cmd_compare(args: argparse.Namespace) -> int:
    base, current = load_result(Path(args.baseline)), load_result(Path(args.current))
    differences = compare(base, current, Tolerance.parse(args.max_regression or ""))
    print(f"baseline {base.run_id} (score {base.score:g}) → {current.run_id} (score {current.score:g})")
    for difference in differences:
        print(f"  {difference.line()}")
    found = regressions(differences)
    print(f"{len(found)} regression(s)" if found else "no regression")
    return int(ExitCode.NO_GO if found else ExitCode.GO)


def render_matrix(matrix: Matrix) -> list[str]:
    """The matrix as text: one row per operation, one column per fault class."""
    marks = {"passed": "pass", "failed": "FAIL", "not run": "yes", None: "-"}
    width = max((len(op.label) for op in matrix.operations), default=9)
    columns = [max(len(c), 4) for c in matrix.fault_classes]
    header = "operation".ljust(width) + "".join(
        f"  {c.ljust(w)}" for c, w in zip(matrix.fault_classes, columns, strict=True)
    )
    lines = [header]
    for op in matrix.operations:
        cells = [
            marks[matrix.result(op, c)].ljust(w) for c, w in zip(matrix.fault_classes, columns, strict=True)
        ]
        note = "" if op.in_openapi else "  (not in the OpenAPI document)"
        lines.append((op.label.ljust(width) + "".join(f"  {cell}" for cell in cells)).rstrip() + note)
    lines += ["", "covered by:"]
    for op in matrix.operations:
        for cls in matrix.fault_classes:
            by_scenario: dict[str, list[str]] = {}
            for cover in matrix.cell(op, cls):
                what = by_scenario.setdefault(cover.scenario, [])
                if cover.expectation:
                    what.append(f"{cover.expectation} {cover.result}")
                elif cover.result != "not run":
                    what.append(f"scenario {cover.result}")
            for scenario, what in by_scenario.items():
                detail = f" ({', '.join(what)})" if what else ""
                lines.append(f"  {op.label} × {cls}: {scenario}{detail}")
    empty = matrix.empty_cells()
    lines += ["", f"{len(empty)} empty cell(s):"] + [f"  {op.label} × {cls}" for op, cls in empty]
    uncovered = matrix.uncovered()
    lines += [f"{len(uncovered)} operation(s) under no fault:"] + [f"  {op.label}" for op in uncovered]
    return lines


def cmd_coverage(args: argparse.Namespace) -> int:
    scenarios = load_paths([Path(p) for p in args.paths])
    openapi = load_openapi(args.openapi) if args.openapi else None
    run = load_result(Path(args.results)) if args.results else None
    matrix = build_matrix([footprint(s.scenario) for s in scenarios], openapi, run)
    if args.json:
        print(json.dumps(matrix.as_json(), indent=2))
    else:
        print("\n".join(render_matrix(matrix)))
    return int(ExitCode.NO_GO if matrix.uncovered() else ExitCode.GO)
