"""Values and fields from JSON schemas: what the document shows first, else a minimal valid value."""

from __future__ import annotations

import re
from typing import Any

from chaosgate.generate.document import ApiDocument, Node
from chaosgate.generate.schemas import example_value, property_names, required_properties


def _document(**schemas: Any) -> ApiDocument:
    return ApiDocument("doc.json", {"openapi": "3.1.0", "paths": {}, "components": {"schemas": schemas}})


def _ref(name: str) -> Node:
    return Node({"$ref": f"#/components/schemas/{name}"}, "/x")


def test_shown_values_come_first() -> None:
    document = _document(
        A={"type": "string", "example": "shown"},
        B={"type": "integer", "examples": [7, 8]},
        C={"type": "string", "enum": ["north", "south"]},
        D={"type": "boolean", "default": True},
    )
    assert [example_value(document, _ref(n)) for n in "ABCD"] == ["shown", 7, "north", True]


def test_made_up_values_respect_bounds_patterns_and_formats() -> None:
    pattern = "^[A-Z]{2}[0-9]$"
    document = _document(
        Code={"type": "string", "pattern": "^[a-z]+$", "minLength": 9},
        Ident={"type": "string", "format": "uuid"},
        Count={"type": "integer", "minimum": 5, "maximum": 9},
        Ratio={"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
        Unmatched={"type": "string", "pattern": pattern},
    )
    code = example_value(document, _ref("Code"))
    assert re.fullmatch("[a-z]{9,}", code)
    assert example_value(document, _ref("Ident")) == "00000000-0000-4000-8000-000000000001"
    assert example_value(document, _ref("Count")) == 5
    assert example_value(document, _ref("Ratio")) == 0.5
    assert isinstance(example_value(document, _ref("Unmatched")), str)  # no candidate fits: still a string


def test_objects_hold_their_required_fields_through_refs_and_combinators() -> None:
    document = _document(
        Base={"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
        Named={
            "allOf": [
                {"$ref": "#/components/schemas/Base"},
                {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "x": {}}},
            ]
        },
        Maybe={"anyOf": [{"type": "null"}, {"$ref": "#/components/schemas/Base"}]},
        Either={
            "oneOf": [
                {"type": "object", "required": ["a", "b"]},
                {"type": "object", "required": ["b", "c"]},
            ]
        },
        Tags={"type": "array", "minItems": 2, "items": {"type": "string"}},
    )
    assert example_value(document, _ref("Named")) == {"id": 1, "name": "example"}
    assert example_value(document, _ref("Maybe")) == {"id": 1}
    assert example_value(document, _ref("Tags")) == ["example", "example"]
    assert required_properties(document, _ref("Named")) == ["id", "name"]
    assert required_properties(document, _ref("Either")) == ["b"]
    assert property_names(document, _ref("Named")) == ["id", "name", "x"]
