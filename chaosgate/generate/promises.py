"""What the document promises an operation answers: statuses, headers, body fields.

A check accepts a set of statuses, so it can only ask for what every one of
them carries: a header required in each of their responses, a field
required in each body. Where the bodies differ — a 200 with `items`, a 503
with the error envelope — a field is asked for as "this one or the
envelope's" (`$['items','error']`), which still fails on an empty or foreign
body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaosgate.generate.document import ApiDocument, ApiOperation
from chaosgate.generate.schemas import required_properties

DEGRADED = 503
"""The status a document declares for "a dependency is out, come back later"."""
REPEATED_CALL = {"DELETE": (404,), "POST": (409,)}
"""Statuses a repeated call on one resource may get (declared ones only): the probe repeats it."""


@dataclass(frozen=True)
class Promise:
    """A response check as a scenario writes it, and the words for its expectation's name."""

    statuses: tuple[int, ...]
    headers: tuple[str, ...]
    fields: tuple[str, ...]

    def check(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.statuses:
            out["status"] = self.statuses[0] if len(self.statuses) == 1 else list(self.statuses)
        if self.headers:
            out["headers"] = dict.fromkeys(self.headers, "present")
        if self.fields:
            out["json"] = {path: {"exists": True} for path in self.fields}
        return out

    def words(self) -> str:
        said = " or ".join(str(s) for s in self.statuses) or "as documented"
        if self.headers:
            said += " with " + ", ".join(self.headers)
        if self.fields:
            said += (" and " if self.headers else " with ") + _field_words(self.fields)
        return said


def _field_words(paths: tuple[str, ...]) -> str:
    names = [p[2:] if p.startswith("$.") else p.split("'")[1] for p in paths]
    shown = ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")
    return shown


def declared_statuses(document: ApiDocument, operation: ApiOperation) -> list[int]:
    return sorted(int(s) for s in document.responses(operation) if s.isdigit())


def success_statuses(document: ApiDocument, operation: ApiOperation) -> list[int]:
    return [s for s in declared_statuses(document, operation) if 200 <= s < 300]


def _required_headers(document: ApiDocument, operation: ApiOperation, status: int) -> list[str]:
    response = document.responses(operation)[str(status)]
    headers = response.child("headers")
    return [
        str(name)
        for name in headers.mapping()
        if document.resolve(headers.child(str(name))).mapping().get("required") is True
        and str(name).lower() != "content-type"
    ]


def _required_fields(document: ApiDocument, operation: ApiOperation, status: int) -> list[str] | None:
    """Required top-level fields of the JSON body of `status`; None when it has no JSON body."""
    schema = document.json_schema(document.responses(operation)[str(status)])
    return None if schema is None else required_properties(document, schema)


def _quoted(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def promise_for(document: ApiDocument, operation: ApiOperation, statuses: list[int]) -> Promise:
    """The check that accepts exactly `statuses` and what every one of them carries."""
    if not statuses:
        return Promise((), (), ())
    header_sets = [_required_headers(document, operation, s) for s in statuses]
    headers = tuple(h for h in header_sets[0] if all(h in other for other in header_sets[1:]))
    bodies = [_required_fields(document, operation, s) for s in statuses]
    fields: list[str] = []
    if all(body is not None for body in bodies):
        first, *others = [body or [] for body in bodies]
        for name in first:
            alternatives = [name]
            for other in others:
                if name not in other:
                    if not other:
                        break  # a body that promises nothing: no field can be asked for
                    alternatives.append(other[0])
            else:
                unique = list(dict.fromkeys(alternatives))
                simple = len(unique) == 1 and name.isidentifier()
                fields.append(f"$.{name}" if simple else "$[" + ",".join(_quoted(a) for a in unique) + "]")
    return Promise(tuple(statuses), headers, tuple(fields))


def documented_answer(document: ApiDocument, operation: ApiOperation) -> Promise:
    """What a healthy service answers, repeated calls on one resource included."""
    declared = declared_statuses(document, operation)
    statuses = success_statuses(document, operation)
    has_resource = "{" in operation.path
    if has_resource or operation.method == "DELETE":
        statuses += [s for s in REPEATED_CALL.get(operation.method, ()) if s in declared]
    return promise_for(document, operation, statuses)


def degraded_answer(document: ApiDocument, operation: ApiOperation) -> Promise:
    """What the service may answer while a dependency is out: success, or the declared 503."""
    statuses = documented_answer(document, operation).statuses
    extra = [DEGRADED] if DEGRADED in declared_statuses(document, operation) else []
    return promise_for(document, operation, [*statuses, *extra])
