"""One client connection relayed to its upstream, with the faults in between.

* client→server messages are sent on unchanged (dropped during a silence);
* server→client messages go through the connection's
  :class:`~injectors.websocket.pipeline.Pipeline` into an outbox that a writer
  task sends in order, each not before its due time;
* a close from either side is passed on with its code and reason; a
  connection lost without a close frame (1006) is passed on as a dropped TCP
  connection; a time-based cut goes ahead of anything still queued;
* during a silence the client connection swallows its automatic answers
  (pongs, close replies), and an upstream close waits for the silence to end.

Memory is bounded: when the outbox holds ``OUTBOX_LIMIT`` frames (a long
delay on a fast stream) the relay stops reading from the upstream until it
drains, so the backpressure reaches the server through TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from injectors.websocket.faults import ABRUPT_CLOSE
from injectors.websocket.pipeline import Pipeline
from injectors.websocket.registry import Close, FaultRegistry, Frame, Item

OUTBOX_LIMIT = 4096
CLOSE_TIMEOUT = 5.0


def sendable(code: int | None) -> bool:
    return code is not None and (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999)


class SilenceableConnection(ServerConnection):
    """A client connection whose automatic answers (pongs, close replies) can be swallowed."""

    silenced = False

    def send_data(self) -> None:
        if not self.silenced:
            super().send_data()
            return
        for data in self.protocol.data_to_send():
            if not data:  # the end of the TCP stream is not an answer; let it through
                with contextlib.suppress(OSError, RuntimeError):
                    self.transport.write_eof()


def _received(closed: ConnectionClosed) -> Close:
    """What the other side said when it closed: its code and reason, or 1006 for a lost connection."""
    if closed.rcvd is None:
        return Close(ABRUPT_CLOSE)
    return Close(int(closed.rcvd.code), closed.rcvd.reason)


class Relay:
    """One client, its upstream connection and the pipeline between them."""

    def __init__(self, registry: FaultRegistry, client: ServerConnection, upstream: ClientConnection) -> None:
        self.client = client
        self.upstream = upstream
        self.loop = asyncio.get_running_loop()
        self.outbox: deque[Item] = deque()
        self.changed = asyncio.Event()
        """Set when the outbox grows, a cut is due, or silence begins or ends: the writer looks again."""
        self.space = asyncio.Event()
        """Set when the writer took an item: a reader waiting for room looks again."""
        self.cut_pending: Close | None = None
        self.pipeline = Pipeline(registry, self._emit, self._cut, self.loop)
        self._emit([])  # a silence may be active already

    def _emit(self, items: list[Item]) -> None:
        self.outbox.extend(items)
        self.changed.set()
        if isinstance(self.client, SilenceableConnection):
            self.client.silenced = self.pipeline.silenced

    def _cut(self, close: Close) -> None:
        """A time-based cut: it goes ahead of anything still queued."""
        self.cut_pending = close
        self.changed.set()

    @staticmethod
    async def _wait(event: asyncio.Event, timeout: float | None = None) -> None:
        event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._client_to_upstream(), name="client->upstream"),
            asyncio.create_task(self._writer(), name="outbox->client"),
            asyncio.create_task(self._upstream_to_outbox(), name="upstream->outbox"),
        ]
        try:
            await asyncio.wait(tasks[:2], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.pipeline.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close(self.upstream, 1001, "chaosgate wsproxy: client connection ended")
            await self.close(self.client, 1001, "chaosgate wsproxy: upstream connection ended")

    async def _client_to_upstream(self) -> None:
        """Client messages go on unchanged (dropped while silenced); the client's close is passed on."""
        while True:
            try:
                message = await self.client.recv()
            except ConnectionClosed as closed:
                await self._pass_close(self.upstream, _received(closed))
                return
            if self.pipeline.silenced:
                self.pipeline.count_silenced()
                continue
            try:
                await self.upstream.send(message)
            except ConnectionClosed:
                return  # the upstream side ends this relay through the writer

    async def _upstream_to_outbox(self) -> None:
        while True:
            try:
                message = await self.upstream.recv()
            except ConnectionClosed as closed:
                self.pipeline.drain()
                self._emit([_received(closed)])
                return
            while len(self.outbox) >= OUTBOX_LIMIT:
                await self._wait(self.space, 1.0)
            self.pipeline.feed(message)

    async def _writer(self) -> None:
        """Send the outbox in order, each frame not before its due time; end with the close."""
        while True:
            if self.cut_pending is not None:
                if isinstance(self.client, SilenceableConnection):
                    self.client.silenced = False  # a cut is seen even on a silent connection
                await self._pass_close(self.client, self.cut_pending, abort_both=True)
                return
            if not self.outbox:
                await self._wait(self.changed)
                continue
            item = self.outbox[0]
            if isinstance(item, Frame) and (wait := item.due - self.loop.time()) > 0:
                await self._wait(self.changed, wait)
                continue
            if isinstance(item, Close) and self.pipeline.silenced:
                await self._wait(self.changed)  # a silent connection stays open until the silence ends
                continue
            self.outbox.popleft()
            self.space.set()
            if isinstance(item, Close):
                await self._pass_close(self.client, item, abort_both=True)
                return
            if self.pipeline.silenced:
                self.pipeline.count_silenced()
                continue
            try:
                await self.client.send(item.data)
            except ConnectionClosed:
                return

    async def _pass_close(
        self, to: ServerConnection | ClientConnection, close: Close, *, abort_both: bool = False
    ) -> None:
        """Close `to` as `close` says: 1006 drops the TCP connection (both, if asked), 1005 sends no code."""
        if close.code == ABRUPT_CLOSE:
            to.transport.abort()
            if abort_both:
                self.upstream.transport.abort()
        elif close.code == 1005:
            await self.close(to, None)
        else:
            await self.close(to, close.code if sendable(close.code) else 1011, close.reason)

    @staticmethod
    async def close(
        connection: ServerConnection | ClientConnection, code: int | None, reason: str = ""
    ) -> None:
        """A closing handshake bounded in time; already closed is fine."""
        with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                if code is None:
                    async with connection.send_context():
                        connection.protocol.send_close()
                else:
                    await connection.close(code, reason)
