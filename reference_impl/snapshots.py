"""In-process snapshots of ``GET /api/v1/agents`` pages, kept exactly as fresh as PostgreSQL says.

Why: listing agents is the hottest read. Building a page costs one database
round trip plus validating and serialising every agent (about 2 ms of CPU for
50 agents), which caps one worker at a few hundred requests per second. A
page's serialised bytes are therefore kept in memory and served again while
nothing can have changed:

* a trigger on ``agents`` sends ``NOTIFY prism_agents`` on every committed
  change (from any process); a dedicated listener connection bumps the
  generation, which invalidates every page; every mutating HTTP request in
  this process bumps it too (read-your-writes without waiting for the
  notification);
* the listener pings PostgreSQL every ``CONFIRM_INTERVAL``; a page is served
  only while the last ping succeeded within ``CONFIRM_WINDOW`` and the
  PostgreSQL breaker is closed, so a hung or lost database (when
  notifications could silently stop) turns snapshots off within about half a
  second and the request takes the normal path (and its degraded modes);
* a page older than ``MAX_AGE`` is rebuilt anyway (its derived heartbeat
  figures are relative to now), and so is one built before the offline queue
  changed (``pending_sync``).

"fresh" on a snapshot thus means: confirmed current by PostgreSQL within the
last ``CONFIRM_WINDOW`` seconds, with no change notified since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

log = logging.getLogger("prism.snapshots")

CHANNEL = "prism_agents"
CONFIRM_INTERVAL = 0.2
CONFIRM_WINDOW = 0.5
MAX_AGE = 1.0
MAX_PAGES = 256


@dataclass(frozen=True)
class Page:
    body: bytes
    generation: int
    queue_marks: tuple[int, int]
    built_at: float  # monotonic


class AgentSnapshots:
    """Serialised list pages and the generation that invalidates them."""

    def __init__(self) -> None:
        self.generation = 0
        self.confirmed_at = -1e9  # monotonic time of the last successful ping on the listener
        self.pages: dict[tuple[int, int], Page] = {}
        self.hits = 0

    def bump(self) -> None:
        self.generation += 1
        if self.pages:
            self.pages = {}

    def usable(self) -> bool:
        return time.monotonic() - self.confirmed_at <= CONFIRM_WINDOW

    def get(self, key: tuple[int, int], queue_marks: tuple[int, int]) -> bytes | None:
        page = self.pages.get(key)
        if (
            page is None
            or page.generation != self.generation
            or page.queue_marks != queue_marks
            or time.monotonic() - page.built_at > MAX_AGE
            or not self.usable()
        ):
            return None
        self.hits += 1
        return page.body

    def put(self, key: tuple[int, int], body: bytes, generation: int, queue_marks: tuple[int, int]) -> None:
        """Keep a page built from data read while the generation was ``generation``."""
        if generation != self.generation or not self.usable():
            return  # something changed while it was being built
        if len(self.pages) >= MAX_PAGES:
            self.pages = {}
        self.pages[key] = Page(body, generation, queue_marks, time.monotonic())

    async def listen(self, dsn: str, stop: asyncio.Event, timeout: float) -> None:
        """Keep a LISTEN connection with a heartbeat until ``stop``; reconnect on any failure."""
        while not stop.is_set():
            connection: Any = None
            try:
                connection = await asyncpg.connect(dsn, timeout=timeout)
                await connection.add_listener(CHANNEL, lambda *_args: self.bump())
                self.bump()  # changes may have been missed while not listening
                while not stop.is_set():
                    async with asyncio.timeout(timeout):
                        await connection.fetchval("SELECT 1")
                    self.confirmed_at = time.monotonic()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(CONFIRM_INTERVAL):
                            await stop.wait()
            except Exception as exc:  # noqa: BLE001 - any failure: snapshots off, reconnect
                log.debug("agent snapshot listener lost: %s", exc)
            finally:
                self.confirmed_at = -1e9
                self.bump()
                if connection is not None:
                    connection.terminate()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await stop.wait()


class InvalidateOnWrite:
    """Pure ASGI middleware: a mutating request in this process invalidates the snapshots when it
    answers, so its client's next read sees its write even before the NOTIFY arrives."""

    def __init__(self, app: Any, snapshots: AgentSnapshots) -> None:
        self.app = app
        self.snapshots = snapshots

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return

        async def bump_then_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.snapshots.bump()
            await send(message)

        await self.app(scope, receive, bump_then_send)
