"""`chaosgate generate`: read the document, pick the faults that apply, write the files."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from chaosgate.exceptions import UsageError
from chaosgate.exitcodes import ExitCode
from chaosgate.generate.document import read_document
from chaosgate.generate.faults import catalogue, class_of, select
from chaosgate.generate.requests import RequestBuilder
from chaosgate.generate.scenarios import Generated, build, slug, write_all
from chaosgate.target import find_target_file, read_target

_ENV = re.compile(r"\$\{env\.([A-Za-z0-9_]+):-")


def target_dependencies(name: str) -> tuple[tuple[str, ...], str | None]:
    """The dependency proxies the target publishes, and a note when there is no target file yet."""
    try:
        find_target_file(name)
    except UsageError:
        note = (
            f"no target file `{name}` yet: write targets/{name}.yaml (e.g. `kind: url` and "
            f"`base_url: http://127.0.0.1:PORT`) before `chaosgate validate` or `run`; "
            "only faults on the API's network path were generated"
        )
        return (), note
    kind, _ = read_target(name)
    return kind.dependency_proxies, None


def generate(args: argparse.Namespace) -> list[Generated]:
    document = read_document(args.openapi, allow_remote=args.allow_remote)
    operations = document.operations()
    if not operations:
        raise UsageError(f"{args.openapi}: #/paths: the document declares no operation")
    dependencies, note = target_dependencies(args.target)
    if note:
        print(f"chaosgate: note: {note}", file=sys.stderr)
    faults = select(catalogue(dependencies), args.faults)
    builder = RequestBuilder(document, operations)
    out = Path(args.out)
    generated: list[Generated] = []
    taken: set[str] = set()
    for operation in operations:
        prepared = builder.prepare(operation)
        base = slug(f"{operation.method} {operation.path}")[:80].strip("-")
        for fault in faults:
            scenario_id, number = f"{base}-{fault.slug}", 2
            while scenario_id in taken:
                scenario_id, number = f"{base}-{number}-{fault.slug}", number + 1
            taken.add(scenario_id)
            data = build(document, operation, prepared, fault, target=args.target, scenario_id=scenario_id)
            path = out / fault.layer / f"{scenario_id}.yaml"
            generated.append(Generated(path, fault, operation, data))
    return generated


def cmd_generate(args: argparse.Namespace) -> int:
    generated = generate(args)
    write_all(generated, overwrite=args.overwrite)
    classes = list(dict.fromkeys(class_of(g.fault) for g in generated))
    operations = len({g.operation.label for g in generated})
    print(
        f"wrote {len(generated)} scenarios to {args.out}: {operations} operations × "
        f"{len(classes)} fault classes ({', '.join(classes)})"
    )
    variables = sorted({name for g in generated for name in _ENV.findall(repr(g.data))})
    if variables:
        print(f"before a run, set {', '.join(variables)} (the files hold placeholders as defaults)")
    print(f"next: chaosgate validate {args.out} && chaosgate run {args.out} --target {args.target} --quick")
    return int(ExitCode.GO)
