"""Starter scenarios as YAML files: one per operation × fault class.

Each scenario samples the operation with one probe whose check is the
document's promise, so every expectation reads that probe: before the fault
it answers as documented; during a fault that leaves the path intact it
still does; during a dependency fault it answers as documented or with the
declared degraded answer (a second probe with that check); a fault that
cuts the path must be seen within 2 s; after any fault it answers as
documented again once the 5 s the SLA allows for recovery have passed.
Writes are sampled twice a second rather than five times.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chaosgate.exceptions import UsageError
from chaosgate.generate.document import ApiDocument, ApiOperation
from chaosgate.generate.promises import REPEATED_CALL, Promise, degraded_answer, documented_answer
from chaosgate.generate.requests import Prepared
from chaosgate.injector import StarterFault
from chaosgate.scenario.schema import COMMITTED_SCHEMA

PROBE = "operation"
DEGRADED_PROBE = "operation_degraded"
FAULT_AT, FAULT_FOR, OBSERVE = "3s", "6s", "10s"
RECOVERY_GRACE = "5s"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class Generated:
    """One scenario to write: where, and its content."""

    path: Path
    fault: StarterFault
    operation: ApiOperation
    data: dict[str, Any]


def _probe(name: str, prepared: Prepared, check: dict[str, Any], safe: bool) -> dict[str, Any]:
    return {"name": name, "request": prepared.request, "expect": check, "every": "200ms" if safe else "500ms"}


def _expectations(
    fault: StarterFault, label: str, documented: str, degraded: str | None
) -> dict[str, list[dict[str, Any]]]:
    before = [{"name": f"{label} answers {documented}", "metric": "availability >= 99%", "of": PROBE}]
    during: list[dict[str, Any]] = []
    after: list[dict[str, Any]] = []
    if fault.dependency:
        during.append(
            {
                "name": f"{label} answers {degraded} under {fault.words}",
                "metric": "availability >= 99%",
                "of": DEGRADED_PROBE,
                "grace": "1s",
                "critical": True,
                "weight": 3,
            }
        )
    elif fault.cuts_path:
        during.append(
            {
                "name": f"{fault.words}: seen within 2 s",
                "metric": "detect < 2s",
                "of": PROBE,
                "fault": fault.slug,
            }
        )
        after.append({"name": "back within 5 s", "metric": "recover < 5s", "of": PROBE, "weight": 2})
    else:
        during.append(
            {
                "name": f"{label} answers {documented} under {fault.words}",
                "metric": "availability >= 99%",
                "of": PROBE,
                "grace": "1s",
                "critical": True,
                "weight": 3,
            }
        )
    after.append(
        {
            "name": f"{label} answers {documented} again",
            "metric": "availability >= 99%",
            "of": PROBE,
            "grace": RECOVERY_GRACE,
            "critical": True,
            "weight": 2,
        }
    )
    return {"before": before, "during": during, "after": after}


def build(
    document: ApiDocument,
    operation: ApiOperation,
    prepared: Prepared,
    fault: StarterFault,
    *,
    target: str,
    scenario_id: str,
) -> dict[str, Any]:
    """The scenario of one operation under one fault, as a mapping ready to dump."""
    documented = documented_answer(document, operation)
    degraded = degraded_answer(document, operation) if fault.dependency else None
    description = _description(document, operation, prepared, fault, documented=documented, degraded=degraded)
    tags = ["generated", operation.method.lower(), fault.layer, fault.kind.replace("_", "-")]
    tags += [slug(str(t)) for t in operation.node.mapping().get("tags") or [] if slug(str(t))]
    data: dict[str, Any] = {
        "id": scenario_id,
        "title": f"{operation.label} under {fault.words}",
        "description": description,
        "tags": list(dict.fromkeys(tags)),
        "category": "network",
        "target": target,
    }
    if prepared.setup:
        data["setup"] = prepared.setup
    probes = [_probe(PROBE, prepared, documented.check(), operation.safe)]
    if degraded is not None:
        probes.append(_probe(DEGRADED_PROBE, prepared, degraded.check(), operation.safe))
    data["probes"] = probes
    data["faults"] = [
        {"name": fault.slug, "injector": fault.injector, **fault.params, "at": FAULT_AT, "for": FAULT_FOR}
    ]
    data["observe"] = OBSERVE
    data["expect"] = _expectations(
        fault, operation.label, documented.words(), degraded.words() if degraded else None
    )
    if prepared.teardown:
        data["teardown"] = prepared.teardown
    return data


def _description(
    document: ApiDocument,
    operation: ApiOperation,
    prepared: Prepared,
    fault: StarterFault,
    *,
    documented: Promise,
    degraded: Promise | None,
) -> str:
    """Why the scenario exists, what it judges, and what to set or check before running it."""
    summary = str(operation.node.mapping().get("summary") or "").strip()
    if fault.dependency:
        what = "it must answer as documented or with the degraded answer the document declares"
    elif fault.cuts_path:
        what = "nothing can answer, so the outage must be seen within 2 s"
    else:
        what = "it must keep answering as documented"
    source = document.source if "://" in document.source else Path(document.source).name
    notes = [
        f"Generated from {source}.",
        f"{operation.label}{f' ({summary})' if summary else ''} under {fault.words}: {what}, "
        f"and answer as documented again within {RECOVERY_GRACE} of the fault ending.",
    ]
    if not documented.statuses:
        notes.append("The document declares no 2xx status for it: the status is not checked.")
    if degraded is not None and degraded.statuses == documented.statuses:
        notes.append("The document declares no 503 for it: during the fault it must answer as usual.")
    if not operation.safe:
        notes.append(f"The probe repeats the {operation.method}: run it against a disposable environment.")
    repeated = [s for s in REPEATED_CALL.get(operation.method, ()) if s in documented.statuses]
    if repeated:
        notes.append(
            f"A repeated call finds the resource {'gone' if operation.method == 'DELETE' else 'changed'}, "
            f"so the declared {' and '.join(map(str, repeated))} is accepted."
        )
    notes += [note[0].upper() + note[1:] + "." for note in dict.fromkeys(prepared.notes)]
    return " ".join(notes)


class _Dumper(yaml.SafeDumper):
    """Block style, long descriptions folded, keys in the order they were built, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = ">" if len(value) > 100 and "\n" not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def render(path: Path, data: dict[str, Any]) -> str:
    schema = os.path.relpath(COMMITTED_SCHEMA, path.parent.resolve())
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return f"# yaml-language-server: $schema={schema}\n{body}"


def write_all(generated: list[Generated], *, overwrite: bool) -> None:
    """Write every file; refuse (exit 2) before writing any if one exists and `overwrite` is off."""
    existing = [g.path for g in generated if g.path.exists()]
    if existing and not overwrite:
        raise UsageError(
            f"{existing[0]} exists ({len(existing)} of the files to write do): "
            "pass --overwrite to replace them"
        )
    for item in generated:
        try:
            item.path.parent.mkdir(parents=True, exist_ok=True)
            item.path.write_text(render(item.path, item.data), encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {item.path}: {error.strerror or error}") from None
