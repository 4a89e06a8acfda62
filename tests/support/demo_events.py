"""A small resumable event stream (not the reference implementation) for engine tests.

`python tests/support/demo_events.py PORT` produces one event every 100 ms
and serves:
  GET /health          200
  WS  /events[?last_sequence=N]
      → {"type": "welcome", "resume_from": N, "head": H}, then every event
        after N in order: {"type": "event", "sequence": s, "event_type": "tick"}
"""

from __future__ import annotations

import asyncio
import json
import sys
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.datastructures import Headers

LOG: list[int] = []
NEW = asyncio.Event()


async def produce() -> None:
    while True:
        LOG.append(len(LOG) + 1)
        NEW.set()
        NEW.clear()
        await asyncio.sleep(0.1)


def health(connection: ServerConnection, request: Request) -> Response | None:
    if urlsplit(request.path).path == "/health":
        return Response(
            HTTPStatus.OK, "OK", Headers({"Content-Type": "application/json"}), b'{"status":"ok"}'
        )
    return None


async def stream(connection: ServerConnection) -> None:
    query = parse_qs(urlsplit(connection.request.path if connection.request else "").query)
    cursor = int(query["last_sequence"][0]) if "last_sequence" in query else len(LOG)
    await connection.send(json.dumps({"type": "welcome", "resume_from": cursor, "head": len(LOG)}))
    while True:
        while cursor < len(LOG):
            cursor += 1
            await connection.send(json.dumps({"type": "event", "sequence": cursor, "event_type": "tick"}))
        await asyncio.sleep(0.02)


async def main(port: int) -> None:
    asyncio.get_running_loop().create_task(produce())
    async with serve(stream, "127.0.0.1", port, process_request=health):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
