"""The `run` and `cleanup` sub-commands: selecting scenarios, wiring outputs, undoing leftovers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chaosgate.baseline import Tolerance
from chaosgate.console import Console
from chaosgate.engine.events import EventHandler
from chaosgate.engine.plan import build_plan
from chaosgate.engine.suite import RunOptions, SuiteRun
from chaosgate.exceptions import ComponentMissing, UsageError
from chaosgate.exitcodes import ExitCode
from chaosgate.history import default_history_dir, load_result
from chaosgate.injector import InjectionContext
from chaosgate.plugins import injector_types, reporter_factories
from chaosgate.scenario.loader import LoadedScenario, load_paths
from chaosgate.scenario.resolution import check_overrides
from chaosgate.state import default_state_dir
from chaosgate.target import target_kinds
from chaosgate.unexpected import describe

DEFAULT_TOXIPROXY = "http://127.0.0.1:8474"


def select(scenarios: list[LoadedScenario], tags: list[str], ids: list[str]) -> list[LoadedScenario]:
    """Keep scenarios with any of `tags` and any of `ids` (when given)."""
    chosen = [
        s
        for s in scenarios
        if (not tags or set(tags) & set(s.scenario.tags)) and (not ids or s.scenario.id in ids)
    ]
    if not chosen:
        what = ", ".join([*(f"tag {t}" for t in tags), *(f"id {i}" for i in ids)])
        raise UsageError(f"no scenario matches {what}" if what else "no scenario to run")
    return chosen


def cmd_run(args: argparse.Namespace) -> int:
    """Resolve every input first — a run never brings a target up for input it cannot use."""
    tags = [t for group in args.tags for t in group.split(",") if t]
    check_overrides(args.target, args.sla)
    scenarios = select(load_paths([Path(p) for p in args.paths]), tags, args.ids)
    if args.dry_run:
        for loaded in scenarios:
            print("\n".join(build_plan(loaded, quick=args.quick, sla=args.sla).lines()))
        return int(ExitCode.GO)
    out_dir = Path(args.out)
    tolerance = Tolerance.parse(args.max_regression or "")
    options = RunOptions(
        out_dir=out_dir,
        state_dir=default_state_dir(args.state_dir),
        quick=args.quick,
        target=args.target,
        sla=args.sla,
        load_workers=args.load_workers,
        settle_timeout=args.settle_timeout,
        debug=args.debug,
        history_dir=Path(args.history) if args.history else default_history_dir(out_dir),
        baseline=load_result(Path(args.baseline)) if args.baseline else None,
        tolerance=tolerance,
    )
    handlers: list[EventHandler] = [Console()]
    factories, problems = reporter_factories()
    for name, factory in factories.items():
        try:
            handlers.append(factory(out_dir))
        except Exception as error:  # noqa: BLE001 - one broken report writer never stops a run
            problems.append(f"report writer `{name}` could not start: {describe(error)}")
    run = SuiteRun(scenarios, options, handlers)
    result = run.execute()
    problems += run.output_failures
    for problem in problems:
        print(f"chaosgate: {problem}", file=sys.stderr)
    print(f"results: {out_dir / 'results.json'}", file=sys.stderr)
    code = result.verdict.exit_code
    # A missing report is an infrastructure failure, above an aborted or failed verdict.
    if problems and code in (ExitCode.GO, ExitCode.NO_GO, ExitCode.ABORTED):
        return int(ExitCode.INFRASTRUCTURE)
    return code


def _toxiproxy_urls(state_dir: Path, extra: list[str]) -> list[str]:
    urls = [DEFAULT_TOXIPROXY, *extra]
    for record in sorted((state_dir / "targets").glob("*.json")):
        try:
            url = json.loads(record.read_text()).get("toxiproxy_url")
        except (OSError, ValueError):
            continue
        if url:
            urls.append(str(url))
    return list(dict.fromkeys(urls))


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Undo what killed runs left: faults first, then the targets they ran against."""
    state_dir = default_state_dir(args.state_dir)
    lines: list[str] = []
    problems: list[str] = []
    for url in _toxiproxy_urls(state_dir, args.toxiproxy):
        context = InjectionContext(
            run_id="cleanup", toxiproxy_url=url, resources={"state_dir": str(state_dir)}
        )
        for name, injector in injector_types().items():
            try:
                lines += injector.cleanup(context)
            except ComponentMissing:
                continue  # no server there, so nothing of ours there either
            except Exception as error:  # noqa: BLE001 - one failing backend must not stop the others
                problems.append(f"{name} at {url}: {error}")
    for name, kind in target_kinds().items():
        try:
            lines += kind.cleanup(state_dir)
        except Exception as error:  # noqa: BLE001
            problems.append(f"target {name}: {error}")
    for line in dict.fromkeys(lines):
        print(line)
    if not lines:
        print("nothing left behind")
    for problem in dict.fromkeys(problems):
        print(f"could not clean up: {problem}", file=sys.stderr)
    return int(ExitCode.INFRASTRUCTURE if problems else ExitCode.GO)
