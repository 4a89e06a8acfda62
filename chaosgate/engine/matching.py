"""Does a response match what a scenario expects? Status, headers and JSON body.

Returns the first reason a response does not match, in words for the report
("header X-Data-Freshness is 'fresh', expected 'stale'"), or None.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chaosgate.scenario.jsonpaths import compile_jsonpath
from chaosgate.scenario.model import BodyMatch, HeaderMatch, ResponseCheck
from chaosgate.scenario.templating import render

_MISSING = object()


def _status_reason(expected: int | list[int] | None, status: int) -> str | None:
    if expected is None:
        return None
    allowed = expected if isinstance(expected, list) else [expected]
    if status in allowed:
        return None
    wanted = " or ".join(str(s) for s in allowed)
    return f"status {status}, expected {wanted}"


def _header_reason(name: str, check: object, headers: Mapping[str, str]) -> str | None:
    value = headers.get(name)
    if check == "present":
        return None if value is not None else f"header {name} missing"
    if check == "absent":
        return None if value is None else f"header {name} present ({value!r}), expected absent"
    if isinstance(check, HeaderMatch):
        if value is None:
            return f"header {name} missing"
        if check.equals is not None and value != check.equals:
            return f"header {name} is {value!r}, expected {check.equals!r}"
        if check.regex is not None and not re.search(check.regex, value):
            return f"header {name} is {value!r}, expected to match /{check.regex}/"
    return None


def _body_reason(path: str, check: BodyMatch, document: Any, context: Mapping[str, Any]) -> str | None:
    found = [m.value for m in compile_jsonpath(path).find(document)] if document is not _MISSING else []
    if check.exists is not None:
        if check.exists and not found:
            return f"{path} missing from the body"
        if not check.exists and found:
            return f"{path} present in the body, expected absent"
    if check.equals is not None:
        wanted = render(check.equals, context)
        if not found:
            return f"{path} missing from the body, expected {wanted!r}"
        if found[0] != wanted and str(found[0]) != str(wanted):
            return f"{path} is {found[0]!r}, expected {wanted!r}"
    if check.matches is not None:
        if not found:
            return f"{path} missing from the body"
        if not re.search(check.matches, str(found[0])):
            return f"{path} is {found[0]!r}, expected to match /{check.matches}/"
    return None


def mismatch(
    check: ResponseCheck,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    context: Mapping[str, Any] | None = None,
) -> str | None:
    """The first way the response differs from `check`, or None when it matches."""
    reason = _status_reason(check.status, status)
    if reason:
        return reason
    for name, header_check in check.headers.items():
        reason = _header_reason(name, header_check, headers)
        if reason:
            return reason
    if check.json_body:
        try:
            document: Any = json.loads(body) if body else _MISSING
        except ValueError:
            return "body is not JSON"
        for path, body_check in check.json_body.items():
            reason = _body_reason(path, body_check, document, context or {})
            if reason:
                return reason
    return None
