"""The `chaosgate` command: one entry point, exit codes from :mod:`chaosgate.exitcodes`.

Every sub-command raises the project's own exceptions; `main` turns them into
a message on stderr and the exit code they carry, so no input ever ends in a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chaosgate import __version__
from chaosgate.exceptions import ChaosgateError
from chaosgate.exitcodes import ExitCode
from chaosgate.unexpected import save_traceback

Command = Callable[[argparse.Namespace], int]
TOLERANCE_HELP = "allowed worsening, e.g. score=2,p95=25%%,p95_abs=50ms (these are the defaults)"


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage, which is already INVALID_INPUT; keep its message short."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"chaosgate: error: {message}", file=sys.stderr)
        raise SystemExit(ExitCode.INVALID_INPUT)


def _cmd_validate(args: argparse.Namespace) -> int:
    from chaosgate.scenario.loader import validate_paths  # noqa: PLC0415 - keeps `--help` fast

    report = validate_paths([Path(p) for p in args.paths])
    for line in report.lines():
        print(line, file=sys.stderr if report.errors else sys.stdout)
    return int(ExitCode.INVALID_INPUT if report.errors else ExitCode.GO)


def _cmd_schema(args: argparse.Namespace) -> int:
    from chaosgate.results import COMMITTED_RESULTS_SCHEMA, results_schema_text  # noqa: PLC0415
    from chaosgate.scenario.schema import COMMITTED_SCHEMA, scenario_schema_text  # noqa: PLC0415

    text, path = (
        (results_schema_text(), COMMITTED_RESULTS_SCHEMA)
        if args.results
        else (scenario_schema_text(), COMMITTED_SCHEMA)
    )
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    else:
        sys.stdout.write(text)
    return int(ExitCode.GO)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from chaosgate.doctor import run_doctor  # noqa: PLC0415

    return run_doctor(sys.stdout)


def _cmd_run(args: argparse.Namespace) -> int:
    from chaosgate.commands import cmd_run  # noqa: PLC0415 - pandas and httpx load only when needed

    return cmd_run(args)


def _cmd_cleanup(args: argparse.Namespace) -> int:
    from chaosgate.commands import cmd_cleanup  # noqa: PLC0415

    return cmd_cleanup(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from chaosgate.report_commands import cmd_report  # noqa: PLC0415

    return cmd_report(args)


def _cmd_compare(args: argparse.Namespace) -> int:
    from chaosgate.report_commands import cmd_compare  # noqa: PLC0415

    return cmd_compare(args)


def _cmd_coverage(args: argparse.Namespace) -> int:
    from chaosgate.report_commands import cmd_coverage  # noqa: PLC0415

    return cmd_coverage(args)


def _cmd_generate(args: argparse.Namespace) -> int:
    from chaosgate.generate.command import cmd_generate  # noqa: PLC0415

    return cmd_generate(args)


def _add_generate(commands: argparse._SubParsersAction[_Parser]) -> None:
    generate = commands.add_parser("generate", help="starter scenarios from an OpenAPI 3 document")
    generate.add_argument("--openapi", required=True, metavar="URL|FILE", help="the API's OpenAPI 3 document")
    generate.add_argument("--out", required=True, metavar="DIR", help="write the scenarios here")
    generate.add_argument(
        "--target", default="reference", metavar="NAME", help="target the scenarios name (default: reference)"
    )
    generate.add_argument(
        "--faults", metavar="CLASS,...", help="only these fault classes, e.g. latency,postgres"
    )
    generate.add_argument("--overwrite", action="store_true", help="replace files that exist")
    generate.add_argument(
        "--allow-remote", action="store_true", help="read a document from a non-loopback URL"
    )
    generate.set_defaults(func=_cmd_generate)


def _add_reading(commands: argparse._SubParsersAction[_Parser]) -> None:
    report = commands.add_parser("report", help="render every report again from a run's journal")
    report.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of a run (holds journal.jsonl)")
    report.add_argument("--out", help="write the reports here instead of RUN_DIR")
    report.set_defaults(func=_cmd_report)
    compare = commands.add_parser("compare", help="what regressed from run A (baseline) to run B")
    compare.add_argument("baseline", metavar="A", help="results.json or run folder of the baseline")
    compare.add_argument("current", metavar="B", help="results.json or run folder to judge")
    compare.add_argument("--max-regression", metavar="TOL", help=TOLERANCE_HELP)
    compare.set_defaults(func=_cmd_compare)
    coverage = commands.add_parser("coverage", help="the endpoint × fault-class matrix of scenarios")
    coverage.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    coverage.add_argument("--openapi", metavar="URL|FILE", help="the API's OpenAPI 3 document")
    coverage.add_argument("--results", metavar="FILE", help="colour cells with this run's results")
    coverage.add_argument("--json", action="store_true", help="print the matrix as JSON")
    coverage.set_defaults(func=_cmd_coverage)


def _cmd_target(args: argparse.Namespace) -> int:
    from chaosgate.target_commands import cmd_target  # noqa: PLC0415

    return cmd_target(args)


def _resource(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. wsproxy:events=URL), not {text!r}")
    return name, value


def _add_target(commands: argparse._SubParsersAction[_Parser]) -> None:
    target = commands.add_parser("target", help="start a target and leave it running (up), remove it (down)")
    actions = target.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    up = actions.add_parser("up", help="start the target (or find it running) and leave it running")
    up.add_argument("name", metavar="NAME", help="target name or file, e.g. reference")
    up.add_argument("--runtime", choices=["process", "docker"], help="override the target file's runtime")
    up.add_argument("--json", action="store_true", help="print the deployment as JSON, secrets included")
    down = actions.add_parser("down", help="remove what `target up` left running")
    down.add_argument("name", metavar="NAME", help="target name or file")
    for sub in (up, down):
        sub.add_argument("--state-dir", help="where target records are (default: $CHAOSGATE_STATE_DIR)")
    target.set_defaults(func=_cmd_target)


def _seconds(text: str) -> float:
    from chaosgate.scenario.quantities import parse_duration  # noqa: PLC0415

    try:
        value = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0s")
    return value


def _add_run(commands: argparse._SubParsersAction[_Parser]) -> None:
    run = commands.add_parser("run", help="run scenarios: inject faults, measure, score, gate")
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    run.add_argument("--target", help="run every scenario against this target (name or file)")
    run.add_argument(
        "--out", default="out", help="folder for results.json, junit.xml, summary.md (default: out)"
    )
    run.add_argument("--tags", action="append", default=[], metavar="T[,T]", help="only scenarios with a tag")
    run.add_argument("--id", dest="ids", action="append", default=[], metavar="ID", help="only this scenario")
    run.add_argument("--quick", action="store_true", help="scale every duration down for CI smoke runs")
    run.add_argument("--dry-run", action="store_true", help="print the plan and touch nothing")
    run.add_argument("--sla", help="judge with this SLA profile (name or file) instead of each scenario's")
    run.add_argument("--load-workers", type=int, default=0, metavar="N", help="run load on N locust workers")
    run.add_argument("--state-dir", help="where undo records go (default: $CHAOSGATE_STATE_DIR)")
    run.add_argument(
        "--settle-timeout",
        type=_seconds,
        metavar="DURATION",
        help="wait at most this long before each scenario for the target to be ready (default: the "
        "target file's settle_timeout, 30s)",
    )
    run.add_argument(
        "--history",
        metavar="DIR",
        help="keep this run among earlier ones here, for trends (default: .chaosgate-history next to --out)",
    )
    run.add_argument(
        "--baseline", metavar="PATH", help="a regression against this run (results.json) is No-Go"
    )
    run.add_argument("--max-regression", metavar="TOL", help=TOLERANCE_HELP)
    run.add_argument("--debug", action="store_true", help="print tracebacks of internal errors")
    run.set_defaults(func=_cmd_run)

    cleanup = commands.add_parser("cleanup", help="undo every fault and target a killed run left behind")
    cleanup.add_argument("--state-dir", help="where undo records are (default: $CHAOSGATE_STATE_DIR)")
    cleanup.add_argument(
        "--resource",
        dest="resources",
        action="append",
        default=[],
        type=_resource,
        metavar="NAME=VALUE",
        help="also clean what injectors find through this resource, as a target would publish it",
    )
    cleanup.add_argument(
        "--toxiproxy",
        dest="resources",
        action="append",
        type=lambda url: ("toxiproxy", url),
        metavar="URL",
        help="also clean this Toxiproxy server (short for --resource toxiproxy=URL)",
    )
    cleanup.set_defaults(func=_cmd_cleanup)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chaosgate", description="Chaos-engineering and API-resilience tests.")
    parser.add_argument("--version", action="version", version=f"chaosgate {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    validate = commands.add_parser("validate", help="check scenario files without touching any system")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders")
    validate.set_defaults(func=_cmd_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of the scenario format")
    schema.add_argument("--write", action="store_true", help="regenerate the committed copy in the package")
    schema.add_argument("--results", action="store_true", help="the schema of results.json instead")
    schema.set_defaults(func=_cmd_schema)

    doctor = commands.add_parser("doctor", help="show what is installed and reachable, with fixes")
    doctor.set_defaults(func=_cmd_doctor)
    _add_run(commands)
    _add_reading(commands)
    _add_target(commands)
    _add_generate(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args)
    except ChaosgateError as error:
        print(error.render(), file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("chaosgate: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`chaosgate doctor | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.GO)
    except Exception as error:  # noqa: BLE001 - a bug of ours: say so briefly, keep the details
        path = save_traceback(error)
        print(
            f"chaosgate: internal error: {type(error).__name__}: {error} (traceback in {path})",
            file=sys.stderr,
        )
        return int(ExitCode.INFRASTRUCTURE)
