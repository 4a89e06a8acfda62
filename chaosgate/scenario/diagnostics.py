"""Turn JSON Schema and pydantic errors into messages a scenario author can act on.

Raw validator output ("is not valid under any of the given schemas") names
neither the line nor the fix. Each error here is resolved to the YAML line of
the offending key or value, says what was expected, and suggests the closest
valid key. Unions (expectation kinds, injectors, toxics) are resolved to the
branch the author evidently meant — the one whose discriminating keys are
present — so its own errors are shown instead of a shrug.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import ValidationError as ModelError

from chaosgate.exceptions import ScenarioError
from chaosgate.scenario.marked_yaml import MarkedDocument, PathKey
from chaosgate.suggest import closest

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing (null)",
}


def _describe_type(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def located(
    doc: MarkedDocument,
    path: PathKey,
    message: str,
    *,
    key: bool = False,
    brief: bool = False,
    **extra: Any,
) -> ScenarioError:
    """A scenario error pointing at the value (or key) at `path` in `doc`."""
    return ScenarioError(
        message,
        span=doc.span_for(path, key=key, brief=brief),
        excerpt=doc.excerpt(path, key=key, brief=brief),
        field_path=_dotted(path),
        **extra,
    )


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _compatible(branch: dict[str, Any], instance: object) -> bool:
    """Whether a branch accepts values of the instance's JSON type at all."""
    kinds = branch.get("type")
    if kinds is None:
        if "enum" in branch or "const" in branch:
            options = branch.get("enum", [branch.get("const")])
            return any(type(o) is type(instance) for o in options)
        nested = branch.get("anyOf") or branch.get("oneOf")
        return True if nested is None else any(_compatible(b, instance) for b in nested)
    names = kinds if isinstance(kinds, list) else [kinds]
    if isinstance(instance, bool):
        return "boolean" in names
    return any(isinstance(instance, _JSON_TYPES.get(name, ())) for name in names)


def _discriminators(branch: dict[str, Any]) -> list[str]:
    """Keys that tell one branch from its siblings: consts, else the first required key."""
    consts = [k for k, v in branch.get("properties", {}).items() if isinstance(v, dict) and "const" in v]
    return consts or branch.get("required", [])[:1]


def _meant(branches: Sequence[dict[str, Any]], instance: object) -> int | None:
    """The branch the author evidently meant: the only one of the right type, or the
    only mapping branch whose discriminating keys are present with matching consts."""
    compatible = [i for i, b in enumerate(branches) if _compatible(b, instance)]
    if len(compatible) == 1:
        return compatible[0]
    if not isinstance(instance, dict):
        return None
    matching = []
    for i in compatible:
        keys = _discriminators(branches[i])
        if not keys or not all(k in instance for k in keys):
            continue
        props = branches[i].get("properties", {})
        if all(instance[k] == props[k]["const"] for k in keys if "const" in props.get(k, {})):
            matching.append(i)
    return matching[0] if len(matching) == 1 else None


def _resolve_refs(validator: Draft202012Validator, schema: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``#/$defs/...`` references, the only kind the generated schema has."""
    root: dict[str, Any] = dict(validator.schema) if isinstance(validator.schema, dict) else {}
    for _ in range(20):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
            break
        schema = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
    return schema


def _schema(error: SchemaError) -> dict[str, Any]:
    """The sub-schema that failed (jsonschema types it loosely)."""
    return dict(error.schema) if isinstance(error.schema, dict) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _union_errors(
    validator: Draft202012Validator, error: SchemaError, doc: MarkedDocument
) -> list[ScenarioError]:
    path: PathKey = tuple(error.absolute_path)
    branches = [_resolve_refs(validator, b) for b in _list(error.validator_value) if isinstance(b, dict)]
    meant = _meant(branches, error.instance)
    if meant is not None:
        sub = [e for e in error.context or [] if e.schema_path and e.schema_path[0] == meant]
        if sub:
            return [item for e in sub for item in translate(validator, e, doc)]
    if isinstance(error.instance, dict):
        return [_unmatched_mapping(branches, error.instance, doc, path)]
    expected = _schema(error).get("description") or _union_expected(branches)
    options = [str(o) for b in branches for o in b.get("enum", [b["const"]] if "const" in b else [])]
    hint = closest(str(error.instance), options) if isinstance(error.instance, str) else None
    return [
        located(
            doc,
            path,
            f"{_describe_type(error.instance)} {error.instance!r} is not valid here",
            expected=str(expected),
            suggestion=hint,
        )
    ]


def _union_expected(branches: Sequence[dict[str, Any]]) -> str:
    parts = []
    for branch in branches:
        if branch.get("description") and branch.get("type") != "object":
            parts.append(str(branch["description"]))
        elif "const" in branch or "enum" in branch:
            options = branch.get("enum", [branch.get("const")])
            parts.append("one of " + ", ".join(f"`{o}`" for o in options))
        elif branch.get("type") == "object":
            keys = _discriminators(branch)
            parts.append("a mapping with " + " and ".join(f"`{k}`" for k in keys) if keys else "a mapping")
        elif "pattern" in branch:
            examples = branch.get("examples", [])
            parts.append(f"a string like {', '.join(repr(e) for e in examples)}" if examples else "a string")
        elif "type" in branch:
            parts.append(_TYPE_NAMES.get(str(branch["type"]), str(branch["type"])))
    return " or ".join(dict.fromkeys(parts)) or "a different value"


def _unmatched_mapping(
    branches: Sequence[dict[str, Any]], instance: dict[str, Any], doc: MarkedDocument, path: PathKey
) -> ScenarioError:
    """No branch is evidently meant: name the discriminating keys and the closest one."""
    for branch in branches:
        for key in _discriminators(branch):
            spec = branch.get("properties", {}).get(key, {})
            if key in instance and isinstance(spec, dict) and "const" in spec:
                options = [b["properties"][key]["const"] for b in branches if key in b.get("properties", {})]
                value = instance[key]
                hint = closest(str(value), [str(o) for o in options])
                return located(
                    doc,
                    (*path, key),
                    f"unknown {key} `{value}`",
                    expected="one of " + ", ".join(f"`{o}`" for o in options),
                    suggestion=hint,
                )
    keys = [k for b in branches for k in _discriminators(b)]
    known = {k for b in branches for k in b.get("properties", {})}
    strangers = [k for k in instance if k not in known]
    hint = next((closest(str(k), keys) for k in strangers if closest(str(k), keys)), None)
    return located(
        doc,
        path,
        "cannot tell what this is: it has none of the keys " + ", ".join(f"`{k}`" for k in keys),
        expected="a mapping with one of " + ", ".join(f"`{k}`" for k in dict.fromkeys(keys)),
        suggestion=hint,
    )


def _additional(error: SchemaError, doc: MarkedDocument) -> list[ScenarioError]:
    path: PathKey = tuple(error.absolute_path)
    schema = _schema(error)
    allowed = list(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    where = schema.get("title", "this mapping")
    out = []
    for key in error.instance if isinstance(error.instance, dict) else {}:
        if key in allowed or any(p.search(str(key)) for p in patterns):
            continue
        out.append(
            located(
                doc,
                (*path, key),
                f"unknown key `{key}` in {where}",
                key=True,
                expected="one of " + ", ".join(f"`{k}`" for k in allowed),
                suggestion=closest(str(key), allowed),
            )
        )
    return out


def translate(
    validator: Draft202012Validator, error: SchemaError, doc: MarkedDocument
) -> list[ScenarioError]:
    """One schema error as one or more located, explained scenario errors."""
    path: PathKey = tuple(error.absolute_path)
    kind = error.validator
    if kind in ("anyOf", "oneOf"):
        return _union_errors(validator, error, doc)
    if kind == "additionalProperties":
        return _additional(error, doc)
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else error.message
        where = _schema(error).get("title", "this mapping")
        return [
            located(doc, path, f"missing required key `{name}` in {where}", expected=f"`{name}` to be given")
        ]
    if kind == "type":
        expected = _TYPE_NAMES.get(str(error.validator_value), str(error.validator_value))
        return [located(doc, path, f"wrong type: got {_describe_type(error.instance)}", expected=expected)]
    if kind in ("enum", "const"):
        options = _list(error.validator_value) if kind == "enum" else [error.validator_value]
        hint = closest(str(error.instance), [str(o) for o in options])
        return [
            located(
                doc,
                path,
                f"`{error.instance}` is not allowed here",
                expected="one of " + ", ".join(f"`{o}`" for o in options),
                suggestion=hint,
            )
        ]
    if kind == "pattern":
        description = _schema(error).get("description") or f"a string matching {error.validator_value}"
        return [located(doc, path, f"`{error.instance}` is not in the expected form", expected=description)]
    return [located(doc, path, error.message)]


def schema_errors(validator: Draft202012Validator, doc: MarkedDocument) -> list[ScenarioError]:
    """Every schema error of a document, located and deduplicated, in file order."""
    found: list[ScenarioError] = []
    for error in validator.iter_errors(doc.data):
        found.extend(translate(validator, error, doc))
    return _unique_sorted(_drop_explained_missing(found))


def _drop_explained_missing(errors: list[ScenarioError]) -> list[ScenarioError]:
    """A key reported missing because it was misspelt is already explained by the
    "unknown key ... did you mean" error of its own mapping: report that one only."""
    suggested = {(_parent(e.field_path), e.suggestion) for e in errors if e.suggestion}
    out = []
    for error in errors:
        missing = re.match(r"missing required key `([^`]+)`", error.message)
        if missing and (error.field_path, missing.group(1)) in suggested:
            continue
        out.append(error)
    return out


def _parent(field_path: str) -> str:
    """The dotted path of the mapping holding `field_path` ("(document)" at the top)."""
    head, dot, _ = field_path.rpartition(".")
    return head if dot else "(document)"


def model_errors(
    error: ModelError, doc: MarkedDocument, prefix: PathKey = (), *, keys: Sequence[str] = ()
) -> list[ScenarioError]:
    """Pydantic errors (semantic checks the schema cannot express) located like schema errors.

    `keys` are the keys the mapping at `prefix` may hold: an unknown one among
    them is reported at the key, with the closest known key.
    """
    out = []
    for item in error.errors():
        loc = tuple(item["loc"])
        path = _data_path(doc.data, (*prefix, *loc))
        if item["type"] == "extra_forbidden" and keys and len(loc) == 1:
            stranger = str(loc[0])
            out.append(
                located(
                    doc,
                    path,
                    f"unknown key `{stranger}`",
                    key=True,
                    expected="one of " + ", ".join(f"`{k}`" for k in keys),
                    suggestion=closest(stranger, keys),
                )
            )
            continue
        if item["type"] == "missing" and loc:
            out.append(
                located(doc, path, f"missing required key `{loc[-1]}`", expected=f"`{loc[-1]}` to be given")
            )
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        out.append(located(doc, path, message))
    return _unique_sorted(_drop_explained_missing(out))


def _data_path(data: Any, loc: Iterable[Any]) -> PathKey:
    """Drop the union-member tags pydantic puts in `loc`, keeping keys that exist in the data."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            path.append(part)
            node = node[part]
    return tuple(path)


def _unique_sorted(errors: Iterable[ScenarioError]) -> list[ScenarioError]:
    seen: set[tuple[str, int, int, str]] = set()
    out: list[ScenarioError] = []
    for error in errors:
        span = error.span
        key = (span.file if span else "", span.line if span else 0, span.column if span else 0, error.message)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return sorted(out, key=lambda e: (e.span.line, e.span.column) if e.span else (0, 0))


def iter_messages(errors: Iterable[ScenarioError]) -> Iterator[str]:
    for error in errors:
        yield error.render()
