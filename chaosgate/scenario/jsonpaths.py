"""JSONPath expressions of response checks, compiled once and checked at load time."""

from __future__ import annotations

from functools import cache

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse


class JsonPathSyntaxError(ValueError):
    """A JSONPath in a scenario that does not parse."""


@cache
def compile_jsonpath(expression: str) -> JSONPath:
    """The compiled expression; raises :class:`JsonPathSyntaxError` with the parser's reason."""
    try:
        return parse(expression)
    except JSONPathError as error:
        raise JsonPathSyntaxError(f"invalid JSONPath `{expression}`: {error}") from None
