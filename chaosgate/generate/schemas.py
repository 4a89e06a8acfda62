"""Values and required fields from JSON schemas of an OpenAPI document.

A request body is what the document shows first: an `example`, the first of
`examples`, a `default` or the first `enum` value; only where it shows
nothing is a minimal value made up that has the declared type and respects
the declared bounds, so the request passes the API's own validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chaosgate.generate.document import ApiDocument, Node

MAX_DEPTH = 8
STRING_CANDIDATES = ("example", "example-1", "a", "1", "A1", "x_1")
FORMATS = {
    "uuid": "00000000-0000-4000-8000-000000000001",
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "email": "someone@example.com",
    "uri": "http://127.0.0.1/example",
    "url": "http://127.0.0.1/example",
    "hostname": "localhost",
    "ipv4": "127.0.0.1",
}


def shown_example(value: Mapping[str, Any]) -> tuple[bool, Any]:
    """The example a media type, parameter or schema shows, if it shows one."""
    if "example" in value:
        return True, value["example"]
    examples = value.get("examples")
    if isinstance(examples, list) and examples:
        return True, examples[0]  # a 3.1 schema: a list of values
    if isinstance(examples, Mapping) and examples:
        first = next(iter(examples.values()))
        if isinstance(first, Mapping) and "value" in first:
            return True, first["value"]  # a media type or parameter: named Example objects
    if "default" in value:
        return True, value["default"]
    if "const" in value:
        return True, value["const"]
    enum = value.get("enum")
    if isinstance(enum, list) and enum:
        return True, enum[0]
    return False, None


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, list):
        return [t for t in declared if t != "null"] or ["null"]
    if isinstance(declared, str):
        return [declared]
    if "properties" in schema or "required" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return []


def _string(schema: Mapping[str, Any]) -> str:
    if schema.get("format") in FORMATS:
        return FORMATS[str(schema["format"])]
    low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 64))
    pattern = schema.get("pattern")
    for candidate in STRING_CANDIDATES:
        text = candidate.ljust(low, "x")[: max(high, 1)]
        if not isinstance(pattern, str) or _matches(pattern, text):
            return text
    return "example".ljust(low, "x")


def _matches(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True  # a pattern Python cannot read: nothing better to offer


def _number(schema: Mapping[str, Any], whole: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    value: float = 1 if low is None else float(low) + (1 if "exclusiveMinimum" in schema else 0)
    high = schema.get("maximum")
    if high is not None and value > float(high):
        value = float(high)
    return int(value) if whole else value


def example_value(document: ApiDocument, node: Node, depth: int = 0) -> Any:
    """A value the schema at `node` accepts: one it shows, else a minimal one."""
    node = document.resolve(node)
    schema = node.mapping()
    found, value = shown_example(schema)
    if found or depth > MAX_DEPTH:
        return value
    for combinator in ("allOf", "oneOf", "anyOf"):
        parts = schema.get(combinator)
        if isinstance(parts, list) and parts:
            if combinator == "allOf":
                merged: dict[str, Any] = {}
                for index in range(len(parts)):
                    part = example_value(document, node.child(combinator, str(index)), depth + 1)
                    if isinstance(part, Mapping):
                        merged.update(part)
                return merged
            options = [node.child(combinator, str(i)) for i in range(len(parts))]
            usable = [o for o in options if document.resolve(o).mapping().get("type") != "null"]
            chosen = (usable or options)[0]
            return example_value(document, chosen, depth + 1)
    kinds = _types(schema)
    kind = kinds[0] if kinds else "string"
    if kind == "object":
        required = schema.get("required") or []
        return {
            str(name): example_value(document, node.child("properties", str(name)), depth + 1)
            for name in required
        }
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [example_value(document, node.child("items"), depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema)


def required_properties(document: ApiDocument, node: Node, depth: int = 0) -> list[str]:
    """Top-level properties every value of the schema carries (`allOf` adds, `oneOf` intersects)."""
    node = document.resolve(node)
    schema = node.mapping()
    if depth > MAX_DEPTH:
        return []
    names: list[str] = [str(n) for n in schema.get("required") or []]
    for index in range(len(schema.get("allOf") or [])):
        names += required_properties(document, node.child("allOf", str(index)), depth + 1)
    for combinator in ("oneOf", "anyOf"):
        parts = schema.get(combinator) or []
        if parts:
            each = [
                required_properties(document, node.child(combinator, str(i)), depth + 1)
                for i in range(len(parts))
            ]
            names += [n for n in each[0] if all(n in other for other in each[1:])]
    return list(dict.fromkeys(names))


def property_names(document: ApiDocument, node: Node, depth: int = 0) -> list[str]:
    """Top-level properties the schema declares, required or not (`allOf` parts included)."""
    node = document.resolve(node)
    schema = node.mapping()
    names = [str(n) for n in (schema.get("properties") or {})]
    for index in range(len(schema.get("allOf") or []) if depth <= MAX_DEPTH else 0):
        names += property_names(document, node.child("allOf", str(index)), depth + 1)
    return list(dict.fromkeys(names))
