"""A small HTTP service that is not the reference implementation, for engine tests.

`python tests/support/demo_service.py PORT [HOST]` serves (HOST defaults to 127.0.0.1;
inside a container it is 0.0.0.0 so the published port reaches it):
  GET /health   200 {"status": "ok"}
  GET /items    200 {"items": [...]}
  POST /items   201 {"id": n}
  GET /slow     200 after 50 ms
  POST /sick    {"after": A, "seconds": S}: /health answers 503 from A to A+S seconds from now
  GET /unavailable  503 {"error": "unavailable"}, a server error on every call
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    items: ClassVar[list[dict[str, object]]] = []
    sick: ClassVar[tuple[float, float]] = (0.0, 0.0)

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            start, end = self.sick
            if start <= time.monotonic() < end:
                self._send(503, {"status": "sick"})
            else:
                self._send(200, {"status": "ok"})
        elif self.path == "/items":
            self._send(200, {"items": self.items})
        elif self.path == "/slow":
            time.sleep(0.05)
            self._send(200, {"slow": True})
        elif self.path == "/unavailable":
            self._send(503, {"error": "unavailable"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/sick":
            start = time.monotonic() + float(payload.get("after", 0))
            Handler.sick = (start, start + float(payload["seconds"]))
            self._send(200, {"sick_in": payload.get("after", 0)})
            return
        item = {"id": len(self.items) + 1, **payload}
        self.items.append(item)
        self._send(201, item)

    def log_message(self, format: str, *args: object) -> None:
        return


if __name__ == "__main__":
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    server = ThreadingHTTPServer((host, int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()
