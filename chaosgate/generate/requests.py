"""An operation made callable: credentials, a resource to act on, a body, and what it needs.

Path parameters are filled from a resource a setup step creates when the
document has a POST on the collection (the created body's id), otherwise
from `${env.NAME:-example}`; bearer tokens come from the document's token
endpoint when it has one (client credentials from `${env.CHAOSGATE_...}`),
otherwise from `${env.API_TOKEN:-change-me}`. Every environment reference
has a default, so the files validate as written; the notes say which
variables to set before a run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from chaosgate.generate.document import ApiDocument, ApiOperation, Node
from chaosgate.generate.promises import documented_answer, success_statuses
from chaosgate.generate.schemas import example_value, property_names, shown_example

REQUEST_TIMEOUT = "2s"
PLACEHOLDER = "change-me"
CREDENTIAL_FIELDS = re.compile(r"^(client_?id|client_?secret|username|password|api_?key)$", re.IGNORECASE)
TOKEN_FIELDS = ("access_token", "accessToken", "token")
_PARAM = re.compile(r"\{([^}/]+)\}")


def env_name(text: str) -> str:
    """`agentId`, `agent-id` → `AGENT_ID`."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^A-Za-z0-9]+", "_", snake).strip("_").upper() or "VALUE"


def env_ref(name: str, default: Any) -> str:
    text = default if isinstance(default, str) else json.dumps(default)
    return f"${{env.{name}:-{text.replace('}', '')}}}"


@dataclass
class Prepared:
    """Setup steps, the request itself, teardown requests, and notes for the description."""

    setup: list[dict[str, Any]] = field(default_factory=list)
    request: dict[str, Any] = field(default_factory=dict)
    teardown: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class RequestBuilder:
    """Makes requests for the operations of one document; finds its token endpoint once."""

    def __init__(self, document: ApiDocument, operations: list[ApiOperation]) -> None:
        self.document = document
        self.by_route = {(op.method, op.path): op for op in operations}
        self.token = self._token_endpoint(operations)

    def _token_endpoint(self, operations: list[ApiOperation]) -> tuple[ApiOperation, str] | None:
        """A public POST whose answer carries an access token (e.g. a client-credentials grant)."""
        for op in sorted(operations, key=lambda o: "token" not in o.path.lower()):
            if op.method != "POST" or op.security or not success_statuses(self.document, op):
                continue
            status = success_statuses(self.document, op)[0]
            schema = self.document.json_schema(self.document.responses(op)[str(status)])
            names = property_names(self.document, schema) if schema else []
            found = next((t for t in TOKEN_FIELDS if t in names), None)
            if found:
                return op, found
        return None

    def body(self, operation: ApiOperation, filled: dict[str, str]) -> tuple[Any, str | None]:
        """The JSON body (None if it takes none) and a note when it cannot be sent as JSON."""
        body = self.document.resolve(operation.node.child("requestBody"))
        if body.value is None:
            return None, None
        content = body.child("content").mapping()
        media = next((m for m in content if m.split(";")[0].strip().endswith("json")), None)
        if media is None:
            kinds = ", ".join(content) or "nothing"
            return None, f"its request body ({kinds}) is not JSON: add one by hand"
        found, value = shown_example(body.child("content", media).mapping())
        if not found:
            schema = body.child("content", media, "schema")
            value = example_value(self.document, schema) if schema.value is not None else {}
        if isinstance(value, dict):
            value = {k: filled.get(k, v) for k, v in value.items()}
        return value, None

    def credentials(
        self, operation: ApiOperation, prepared: Prepared
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and query parameters that authenticate `operation`; may add the token step."""
        if not operation.security or any(not alt for alt in operation.security):
            return {}, {}
        headers: dict[str, str] = {}
        params: dict[str, str] = {}
        schemes = self.document.security_schemes()
        for number, name in enumerate(operation.security[0]):
            scheme = self.document.resolve(Node(schemes.get(name), f"/components/securitySchemes/{name}"))
            kind = str(scheme.mapping().get("type", "")).lower()
            http = str(scheme.mapping().get("scheme", "")).lower()
            if kind == "apikey":
                var = "API_KEY" if number == 0 else f"API_KEY_{env_name(str(name))}"
                where, key = scheme.mapping().get("in"), str(scheme.mapping().get("name", "X-Api-Key"))
                value = env_ref(var, PLACEHOLDER)
                if where == "query":
                    params[key] = value
                elif where == "cookie":
                    headers["Cookie"] = f"{key}={value}"
                else:
                    headers[key] = value
                prepared.notes.append(f"set {var} to the API key ({key} {where or 'header'})")
            elif kind == "http" and http == "basic":
                headers["Authorization"] = "Basic " + env_ref("API_BASIC_CREDENTIALS", PLACEHOLDER)
                prepared.notes.append("set API_BASIC_CREDENTIALS to base64(user:password)")
            else:  # bearer, oauth2, openIdConnect: a token
                headers["Authorization"] = "Bearer " + self._token(prepared)
        return headers, params

    def _token(self, prepared: Prepared) -> str:
        if self.token is None:
            prepared.notes.append("set API_TOKEN to a bearer token (the document has no token endpoint)")
            return env_ref("API_TOKEN", PLACEHOLDER)
        operation, token_field = self.token
        if not any(step["name"] == "token" for step in prepared.setup):
            body, _ = self.body(operation, {})
            variables = []
            if isinstance(body, dict):
                for key, value in list(body.items()):
                    if CREDENTIAL_FIELDS.match(key) and not isinstance(value, dict | list):
                        var = f"CHAOSGATE_{env_name(key)}"
                        body[key] = env_ref(var, value if value not in (None, "example") else PLACEHOLDER)
                        variables.append(var)
            answer = documented_answer(self.document, operation)
            expect: dict[str, Any] = {"json": {f"$.{token_field}": {"exists": True}}}
            if answer.statuses:
                expect["status"] = answer.check()["status"]
            request: dict[str, Any] = {"method": "POST", "path": operation.path}
            if body is not None:
                request["json"] = body
            request["timeout"] = REQUEST_TIMEOUT
            prepared.setup.insert(0, {"name": "token", "request": request, "expect": expect})
            if variables:
                prepared.notes.append(
                    f"set {' and '.join(variables)} to credentials {operation.path} accepts "
                    "(a client allowed to call every operation)"
                )
        return f"${{setup.token.{token_field}}}"

    def prepare(self, operation: ApiOperation) -> Prepared:
        """Everything a scenario needs to call `operation` repeatedly."""
        prepared = Prepared()
        headers, params = self.credentials(operation, prepared)
        filled: dict[str, str] = {}
        path = operation.path
        for name in _PARAM.findall(operation.path):
            value = self._resource(operation, name, path, filled, prepared)
            filled[name] = value
            path = path.replace("{" + name + "}", value)
        for parameter in operation.parameters:
            spec = parameter.mapping()
            where, name = spec.get("in"), str(spec.get("name"))
            if where == "path" or not spec.get("required") or name.lower() == "authorization":
                continue
            value = _parameter_value(self.document, parameter)
            if where == "query":
                params[name] = value if isinstance(value, str | int | float | bool) else json.dumps(value)
            elif where == "header":
                headers[name] = str(value)
        body, note = self.body(operation, filled)
        if note:
            prepared.notes.append(note)
        request: dict[str, Any] = {"method": operation.method, "path": path}
        if headers:
            request["headers"] = headers
        if params:
            request["params"] = params
        if body is not None:
            request["json"] = body
        request["timeout"] = REQUEST_TIMEOUT
        prepared.request = request
        return prepared

    def _resource(
        self, operation: ApiOperation, name: str, path: str, filled: dict[str, str], prepared: Prepared
    ) -> str:
        """A value for path parameter `name`: a resource made in setup, or an environment variable."""
        collection = path.split("/{" + name + "}", 1)[0]
        template = operation.path.split("/{" + name + "}", 1)[0]
        creator = self.by_route.get(("POST", template))
        created = self._created_id(creator, name) if creator else None
        if creator is None or created is None:
            parameter = next(
                (
                    p
                    for p in operation.parameters
                    if p.mapping().get("name") == name and p.mapping().get("in") == "path"
                ),
                None,
            )
            default = _parameter_value(self.document, parameter) if parameter else "example"
            var = env_name(name)
            prepared.notes.append(
                f"`{{{name}}}` comes from the environment variable {var} (default {default!r}): "
                f"the document has no POST "
                f"{template} that creates one, so set {var} to an existing one"
            )
            return env_ref(var, default)
        step = _step_name(name, [s["name"] for s in prepared.setup])
        headers, params = self.credentials(creator, prepared)
        body, _ = self.body(creator, filled)
        request: dict[str, Any] = {"method": "POST", "path": collection}
        if headers:
            request["headers"] = headers
        if params:
            request["params"] = params
        if body is not None:
            request["json"] = body
        request["timeout"] = REQUEST_TIMEOUT
        id_field, statuses = created
        expect: dict[str, Any] = {"json": {f"$.{id_field}": {"exists": True}}}
        expect["status"] = statuses[0] if len(statuses) == 1 else statuses
        others = [s for s in success_statuses(self.document, creator) if s not in statuses]
        if others:
            prepared.notes.append(
                f"POST {template} declares the id elsewhere in its {'/'.join(map(str, others))} answer: "
                f"setup accepts only {'/'.join(map(str, statuses))}"
            )
        prepared.setup.append({"name": step, "request": request, "expect": expect})
        value = f"${{setup.{step}.{id_field}}}"
        deleter = ("DELETE", f"{template}/{{{name}}}")
        if deleter in self.by_route and (operation.method, operation.path) != deleter:
            delete: dict[str, Any] = {"method": "DELETE", "path": f"{collection}/{value}"}
            if headers:
                delete["headers"] = headers
            prepared.teardown.insert(0, delete)
        prepared.notes.append(f"`{{{name}}}` is a resource created by POST {template} in setup")
        return value

    def _created_id(self, creator: ApiOperation, name: str) -> tuple[str, list[int]] | None:
        """Where the created resource's id is (the parameter's name or `id`, at the top or one
        level down), and the answers that carry it there: when the success answers disagree, setup
        accepts only those, so a reference to the id never reads a field that is not there."""
        found: dict[int, list[str]] = {}
        for status in success_statuses(self.document, creator):
            schema = self.document.json_schema(self.document.responses(creator)[str(status)])
            if schema is None:
                found[status] = []
                continue
            names = property_names(self.document, schema)
            paths = [n for n in (name, "id") if n in names]
            for prop in names:
                inner = property_names(self.document, schema.child("properties", prop))
                paths += [f"{prop}.{n}" for n in (name, "id") if n in inner]
            found[status] = paths
        candidates = [path for paths in found.values() for path in paths]
        if not candidates:
            return None
        common = [path for path in candidates if all(path in paths for paths in found.values())]
        chosen = (common or candidates)[0]
        return chosen, [status for status, paths in found.items() if chosen in paths]


def _parameter_value(document: ApiDocument, parameter: Node) -> Any:
    found, value = shown_example(parameter.mapping())
    if found:
        return value
    schema = parameter.child("schema")
    return example_value(document, schema) if schema.value is not None else "example"


def _step_name(parameter: str, taken: list[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", re.sub(r"_?[Ii][Dd]$", "", parameter)) or "resource"
    base = base if re.match(r"[A-Za-z_]", base) else f"r_{base}"
    base = base if base != "token" else "token_resource"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name
