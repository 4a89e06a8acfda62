"""An inventory API that describes itself in OpenAPI 3.0 — a document chaosgate did not write.

`python tests/support/inventory_service.py PORT [API_KEY [--no-total-header]]` serves, on 127.0.0.1:
  GET    /openapi.json                          its OpenAPI 3.0.3 document
  GET    /health                                200 {"status": "up"} (no key needed)
  GET    /v2/items                              200 {"items": [...], "total": n}, header X-Total-Count
  POST   /v2/items                              201 {"itemId", "sku", "quantity"}, header Location
  GET    /v2/items/{itemId}                     200 the item, 404 text
  PATCH  /v2/items/{itemId}                     200 the item
  DELETE /v2/items/{itemId}                     204, 404 text
  GET    /v2/warehouses/{warehouseCode}/stock   200 {"warehouse", "skus"} for north or south
Every /v2 call needs the header `X-Api-Key: API_KEY` (default `inventory-key`), else 401 text.
`--no-total-header` breaks a promise of the document: GET /v2/items answers without X-Total-Count.
Its shape differs from the reference on purpose: an API key instead of bearer tokens, integer
camelCase ids, errors as plain text with no envelope, no 503 declared.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

MAX_ITEMS = 1000


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "ok", **headers: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response


TEXT_ERROR = {"description": "a plain-text reason", "content": {"text/plain": {"schema": {"type": "string"}}}}
ITEM_ID = {"name": "itemId", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Inventory", "version": "2.4.0"},
    "security": [{"inventoryKey": []}],
    "paths": {
        "/health": {
            "get": {
                "summary": "Liveness",
                "security": [],
                "responses": {"200": _json({"type": "object", "required": ["status"]})},
            }
        },
        "/v2/items": {
            "get": {
                "summary": "List items",
                "responses": {
                    "200": _json(
                        _ref("ItemPage"),
                        **{"X-Total-Count": {"required": True, "schema": {"type": "integer"}}},
                    ),
                    "401": TEXT_ERROR,
                },
            },
            "post": {
                "summary": "Add an item",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewItem")}},
                },
                "responses": {
                    "201": _json(
                        _ref("Item"), "created", Location={"required": True, "schema": {"type": "string"}}
                    ),
                    "400": TEXT_ERROR,
                    "401": TEXT_ERROR,
                },
            },
        },
        "/v2/items/{itemId}": {
            "parameters": [ITEM_ID],
            "get": {"summary": "One item", "responses": {"200": _json(_ref("Item")), "404": TEXT_ERROR}},
            "patch": {
                "summary": "Change the quantity",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("QuantityChange"), "example": {"quantity": 7}}
                    },
                },
                "responses": {"200": _json(_ref("Item")), "404": TEXT_ERROR},
            },
            "delete": {
                "summary": "Remove an item",
                "responses": {"204": {"description": "gone"}, "404": TEXT_ERROR},
            },
        },
        "/v2/warehouses/{warehouseCode}/stock": {
            "get": {
                "summary": "Stock of a warehouse",
                "parameters": [
                    {
                        "name": "warehouseCode",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["north", "south"]},
                    }
                ],
                "responses": {"200": _json(_ref("Stock")), "404": TEXT_ERROR},
            }
        },
    },
    "components": {
        "securitySchemes": {"inventoryKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "schemas": {
            "NewItem": {
                "type": "object",
                "required": ["sku", "quantity"],
                "properties": {
                    "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$", "example": "ABC-0001"},
                    "quantity": {"type": "integer", "minimum": 1},
                },
            },
            "QuantityChange": {
                "type": "object",
                "required": ["quantity"],
                "properties": {"quantity": {"type": "integer", "minimum": 0}},
            },
            "Item": {
                "allOf": [
                    _ref("NewItem"),
                    {"type": "object", "required": ["itemId"], "properties": {"itemId": {"type": "integer"}}},
                ]
            },
            "ItemPage": {
                "type": "object",
                "required": ["items", "total"],
                "properties": {
                    "items": {"type": "array", "items": _ref("Item")},
                    "total": {"type": "integer"},
                },
            },
            "Stock": {
                "type": "object",
                "required": ["warehouse", "skus"],
                "properties": {"warehouse": {"type": "string"}, "skus": {"type": "integer"}},
            },
        },
    },
}
_ITEM = re.compile(r"^/v2/items/(\d+)$")
_STOCK = re.compile(r"^/v2/warehouses/([a-z]+)/stock$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api_key: ClassVar[str] = "inventory-key"
    total_header: ClassVar[bool] = True
    items: ClassVar[dict[int, dict[str, Any]]] = {}
    next_id: ClassVar[int] = 1
    lock = threading.Lock()

    def _send(self, status: int, body: object = None, **headers: str) -> None:
        data = (
            b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _payload(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _allowed(self) -> bool:
        if self.headers.get("X-Api-Key") == self.api_key:
            return True
        self._send(401, "missing or wrong X-Api-Key")
        return False

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/openapi.json":
            self._send(200, DOCUMENT)
        elif path == "/health":
            self._send(200, {"status": "up"})
        elif not self._allowed():
            return
        elif path == "/v2/items":
            with self.lock:
                items = list(self.items.values())
            headers = {"X_Total_Count": str(len(items))} if self.total_header else {}
            self._send(200, {"items": items[-20:], "total": len(items)}, **headers)
        elif (match := _ITEM.match(path)) and int(match.group(1)) in self.items:
            self._send(200, self.items[int(match.group(1))])
        elif (match := _STOCK.match(path)) and match.group(1) in ("north", "south"):
            self._send(200, {"warehouse": match.group(1), "skus": len(self.items)})
        else:
            self._send(404, "no such thing")

    def do_POST(self) -> None:
        if self.path != "/v2/items":
            self._send(404, "no such thing")
            return
        if not self._allowed():
            return
        payload = self._payload()
        sku, quantity = payload.get("sku"), payload.get("quantity")
        if not (isinstance(sku, str) and re.match(r"^[A-Z]{3}-[0-9]{4}$", sku) and isinstance(quantity, int)):
            self._send(400, "sku (AAA-0000) and quantity (integer) are required")
            return
        with self.lock:
            item_id = Handler.next_id
            Handler.next_id += 1
            self.items[item_id] = {"itemId": item_id, "sku": sku, "quantity": quantity}
            while len(self.items) > MAX_ITEMS:
                del self.items[next(iter(self.items))]
        self._send(201, self.items[item_id], Location=f"/v2/items/{item_id}")

    def do_PATCH(self) -> None:
        match = _ITEM.match(self.path)
        if not self._allowed():
            return
        if not match or int(match.group(1)) not in self.items:
            self._send(404, "no such item")
            return
        quantity = self._payload().get("quantity")
        if not isinstance(quantity, int):
            self._send(400, "quantity (integer) is required")
            return
        item = self.items[int(match.group(1))]
        item["quantity"] = quantity
        self._send(200, item)

    def do_DELETE(self) -> None:
        match = _ITEM.match(self.path)
        if not self._allowed():
            return
        with self.lock:
            found = bool(match) and self.items.pop(int(match.group(1)) if match else 0, None) is not None
        self._send(204) if found else self._send(404, "no such item")

    def log_message(self, format: str, *args: object) -> None:
        return


if __name__ == "__main__":
    if len(sys.argv) > 2:
        Handler.api_key = sys.argv[2]
    Handler.total_header = "--no-total-header" not in sys.argv[3:]
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
