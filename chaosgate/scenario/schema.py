"""The scenario JSON Schema, generated from the model and the installed injectors.

The model classes describe everything but fault parameters, which each
injector owns; here every injector's ``Params`` schema is folded into the
``Fault`` definition as one branch per injector, discriminated by the
``injector`` key, so an editor completes ``toxic:`` only under
``injector: toxiproxy`` and validation rejects parameters an injector does not
take. The result is committed as ``chaosgate/schemas/scenario.schema.json``; a
test fails when that copy is stale.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from chaosgate.injector import Injector, InjectorParams
from chaosgate.plugins import injector_types
from chaosgate.scenario.model import Fault, Scenario

SCHEMA_ID = "https://chaosgate.dev/schemas/scenario.schema.json"
COMMITTED_SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "scenario.schema.json"
FAULT_COMMON_KEYS = ("injector", "name", "at", "for")

JsonObject = dict[str, Any]


def _fault_branch(
    name: str, injector: type[Injector[InjectorParams]], common: JsonObject, defs: JsonObject
) -> JsonObject:
    params = injector.Params.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    for def_name, definition in params.pop("$defs", {}).items():
        defs.setdefault(def_name, definition)
    properties = {key: copy.deepcopy(value) for key, value in common.items() if key != "injector"}
    properties["injector"] = {"const": name, "description": injector.summary or injector.__doc__ or name}
    overlap = set(properties) & set(params.get("properties", {}))
    if overlap:
        raise ValueError(f"injector `{name}` parameters shadow fault keys: {sorted(overlap)}")
    properties.update(params.get("properties", {}))
    branch: JsonObject = {
        "title": f"{name} fault",
        "type": "object",
        "properties": properties,
        "required": ["injector", "for", *params.get("required", [])],
        "additionalProperties": False,
    }
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in params:
            branch[keyword] = params[keyword]
    return branch


@cache
def _build() -> str:
    schema = Scenario.model_json_schema(by_alias=True, mode="validation", ref_template="#/$defs/{model}")
    defs: JsonObject = schema.setdefault("$defs", {})
    fault = Fault.model_json_schema(by_alias=True, mode="validation")
    common: JsonObject = fault["properties"]
    branches = [_fault_branch(name, cls, common, defs) for name, cls in injector_types().items()]
    defs["Fault"] = {
        "title": "Fault",
        "description": (Fault.__doc__ or "").split("\n\n")[0],
        "type": "object",
        "properties": {
            "injector": {"enum": list(injector_types()), "description": "Which injector applies it."}
        },
        "required": ["injector"],
        "oneOf": branches,
    }
    ordered: JsonObject = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }
    return json.dumps(ordered, indent=2, sort_keys=False) + "\n"


def scenario_schema() -> JsonObject:
    """The full schema as a fresh dict (callers may not mutate the cached copy)."""
    result: JsonObject = json.loads(_build())
    return result


def scenario_schema_text() -> str:
    """The schema exactly as it is committed: stable key order and a final newline."""
    return _build()


def write_committed_schema(path: Path = COMMITTED_SCHEMA) -> Path:
    """Regenerate the committed copy (used by `chaosgate schema --write`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scenario_schema_text(), encoding="utf-8")
    return path
