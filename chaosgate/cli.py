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

Command = Callable[[argparse.Namespace], int]


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
    from chaosgate.scenario.schema import scenario_schema_text, write_committed_schema  # noqa: PLC0415

    if args.write:
        print(f"wrote {write_committed_schema()}")
    else:
        sys.stdout.write(scenario_schema_text())
    return int(ExitCode.GO)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from chaosgate.doctor import run_doctor  # noqa: PLC0415

    return run_doctor(sys.stdout)


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
    schema.set_defaults(func=_cmd_schema)

    doctor = commands.add_parser("doctor", help="show what is installed and reachable, with fixes")
    doctor.set_defaults(func=_cmd_doctor)
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
