"""An OpenAPI 3.0/3.1 document as the generator reads it: operations, `$ref`s, responses.

Errors name the document and the JSON pointer of what is wrong, because a
document chaosgate did not write is fixed by its owner, who needs to find
the spot. Swagger 2.0 is refused with the way to convert it: its parameters,
bodies and responses have another shape, and guessing at them would give
scenarios that validate but test something the API never promised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chaosgate.coverage import HTTP_METHODS, load_openapi
from chaosgate.exceptions import UsageError
from chaosgate.ports import is_loopback_host

MAX_REF_HOPS = 32
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SWAGGER_ADVICE = (
    "chaosgate generate reads OpenAPI 3.0 and 3.1 documents only; convert this one first, "
    "e.g. `npx swagger2openapi DOC -o openapi3.json` or the Swagger Editor's "
    "`Edit → Convert to OpenAPI 3`, then run generate on the converted document"
)


def escape(token: str) -> str:
    """One JSON pointer token (RFC 6901): `~` and `/` escaped."""
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Node:
    """A value of the document and the JSON pointer it was found at (after `$ref`s)."""

    value: Any
    pointer: str

    def child(self, *tokens: str) -> Node:
        value = self.value
        for token in tokens:
            if isinstance(value, Mapping):
                value = value.get(token)
            elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
                value = value[int(token)]
            else:
                value = None
        return Node(value, self.pointer + "".join("/" + escape(t) for t in tokens))

    def mapping(self) -> Mapping[str, Any]:
        return self.value if isinstance(self.value, Mapping) else {}


@dataclass(frozen=True)
class ApiOperation:
    """One method on one path, with the parameters and security that apply to it."""

    method: str
    path: str
    node: Node
    parameters: tuple[Node, ...]
    security: tuple[Mapping[str, Any], ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def safe(self) -> bool:
        return self.method in SAFE_METHODS


class ApiDocument:
    """The document, with `$ref` resolution that says where a broken reference is."""

    def __init__(self, source: str, data: Mapping[str, Any]) -> None:
        self.source = source
        self.data = data

    def fail(self, pointer: str, message: str) -> UsageError:
        return UsageError(f"{self.source}: #{pointer}: {message}")

    def resolve(self, node: Node) -> Node:
        """`node` with every `$ref` on the way followed (local references only)."""
        for _ in range(MAX_REF_HOPS):
            value = node.value
            if not (isinstance(value, Mapping) and "$ref" in value):
                return node
            ref = value["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise self.fail(node.pointer + "/$ref", f"`{ref}` is not a reference inside this document")
            target = Node(self.data, "")
            for raw in ref[1:].split("/")[1:]:
                token = raw.replace("~1", "/").replace("~0", "~")
                target = target.child(token)
                if target.value is None:
                    raise self.fail(node.pointer + "/$ref", f"`{ref}` points to nothing")
            node = target
        raise self.fail(node.pointer, f"more than {MAX_REF_HOPS} `$ref`s in a row (a cycle?)")

    def security_schemes(self) -> Mapping[str, Any]:
        root = Node(self.data, "")
        return self.resolve(root.child("components", "securitySchemes")).mapping()

    def operations(self) -> list[ApiOperation]:
        root = Node(self.data, "")
        found = []
        default_security = root.child("security").value or []
        for path in self.data["paths"]:
            item = self.resolve(root.child("paths", str(path)))
            if not isinstance(item.value, Mapping):
                raise self.fail(item.pointer, "a path item must be an object")
            shared = self._parameters(item.child("parameters"))
            for method in item.value:
                if method not in HTTP_METHODS or method == "trace":
                    continue
                node = self.resolve(item.child(method))
                if not isinstance(node.value, Mapping):
                    raise self.fail(node.pointer, "an operation must be an object")
                responses = node.child("responses")
                if responses.value is not None and not isinstance(responses.value, Mapping):
                    raise self.fail(responses.pointer, "`responses` must be an object")
                own = self._parameters(node.child("parameters"))
                merged = {(p.value.get("in"), p.value.get("name")): p for p in (*shared, *own)}
                security = node.value.get("security", default_security)
                if not isinstance(security, list):
                    raise self.fail(node.pointer + "/security", "`security` must be a list")
                found.append(
                    ApiOperation(method.upper(), str(path), node, tuple(merged.values()), tuple(security))
                )
        return found

    def _parameters(self, node: Node) -> list[Node]:
        if node.value is None:
            return []
        if not isinstance(node.value, list):
            raise self.fail(node.pointer, "`parameters` must be a list")
        out = []
        for index in range(len(node.value)):
            parameter = self.resolve(Node(node.value[index], f"{node.pointer}/{index}"))
            if not isinstance(parameter.value, Mapping) or "name" not in parameter.value:
                raise self.fail(parameter.pointer, "a parameter needs a `name` and an `in`")
            out.append(parameter)
        return out

    def responses(self, operation: ApiOperation) -> dict[str, Node]:
        """Status code (as written: `200`, `2XX`, `default`) → the resolved response object."""
        responses = operation.node.child("responses")
        return {str(status): self.resolve(responses.child(str(status))) for status in responses.mapping()}

    def json_schema(self, holder: Node) -> Node | None:
        """The JSON schema of a response or request body, if it has JSON content."""
        content = holder.child("content").mapping()
        for media in content:
            if media.split(";")[0].strip() in ("application/json", "*/*") or media.endswith("+json"):
                schema = holder.child("content", media, "schema")
                return self.resolve(schema) if schema.value is not None else None
        return None


def read_document(source: str, *, allow_remote: bool = False) -> ApiDocument:
    """The document at a path or URL, checked to be OpenAPI 3; errors are exit-2 usage errors."""
    if source.startswith(("http://", "https://")):
        host = urlsplit(source).hostname or ""
        if not allow_remote and not is_loopback_host(host):
            raise UsageError(
                f"{source}: {host} is not a loopback address; pass --allow-remote to read it anyway"
            )
    data = load_openapi(source)
    if "swagger" in data:
        raise UsageError(f"{source}: a Swagger {data.get('swagger')} document. {SWAGGER_ADVICE}")
    version = data.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise UsageError(
            f"{source}: #/openapi: expected an OpenAPI 3.0 or 3.1 version such as `3.1.0`, found {version!r}"
        )
    return ApiDocument(source, data)
