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
from chaosgate.target import published_resources, target_kinds
from chaosgate.unexpected import describe


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


def resource_sets(given: list[tuple[str, str]], state_dir: Path) -> list[dict[str, str]]:
    """Every set of resources cleanup hands to the injectors, each once.

    First none (every injector's default servers), then what the command
    line names (a name given twice starts a second set), then what each
    target that left a record published.
    """
    named: list[dict[str, str]] = []
    for name, value in given:
        free = next((s for s in named if name not in s), None)
        if free is None:
            free = {}
            named.append(free)
        free[name] = value
    unique: dict[str, dict[str, str]] = {}
    for resources in [{}, *named, *published_resources(state_dir)]:
        unique.setdefault(json.dumps(resources, sort_keys=True), resources)
    return list(unique.values())


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Undo what killed runs left: faults first, then the targets they ran against.

    Exit 3 when anything recorded could not be undone (its record is kept for
    the next cleanup). An injector raises ComponentMissing only when the
    server it was pointed at does not answer and held nothing that outlives
    it (Toxiproxy keeps proxies and toxics in memory); a backend that is down
    while a record still names a change in it raises InjectorError instead.
    """
    state_dir = default_state_dir(args.state_dir)
    lines: list[str] = []
    problems: list[str] = []
    for resources in resource_sets(args.resources, state_dir):
        context = InjectionContext(run_id="cleanup", state_dir=state_dir, resources=resources)
        for name, injector in injector_types().items():
            try:
                lines += injector.cleanup(context)
            except ComponentMissing:
                continue  # no Toxiproxy server there, so nothing of ours there either
            except Exception as error:  # noqa: BLE001 - one failing backend must not stop the others
                problems.append(f"{name}: {error}")
    for name, kind in target_kinds().items():
        try:
            lines += kind.cleanup(state_dir)
        except Exception as error:  # noqa: BLE001
            problems.append(f"target {name}: {error}")
    for line in dict.fromkeys(lines):
        print(line)
    if not lines and not problems:
        print("nothing left behind")
    for problem in dict.fromkeys(problems):
        print(f"could not clean up: {problem}", file=sys.stderr)
    return int(ExitCode.INFRASTRUCTURE if problems else ExitCode.GO)
