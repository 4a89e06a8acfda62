"""The `websocket` injector against the reference ``WS /api/v1/events`` (issue 4 acceptance).

A WebSocket frame proxy (:class:`WebSocketProxyProcess`, its own process) stands
in front of the running API. A viewer subscribes to the event stream through it
(``?token=``, ``last_sequence``) while a second viewer subscribes to the API
directly, as the witness of what the server really sent. Events are produced by
creating agents as operator (one ``agent.created`` event each); faults are set
with the :class:`WebSocketInjector` through its ``wsproxy:events`` resource, as
a scenario would set them.

Which frames pass through the proxy: subscribed with ``last_sequence=H``, the
server sends the ``welcome`` frame, then one ``event`` frame per event after
``H``, and nothing else on a quiet stack (no ``token_expiring``: tokens live
15 minutes; no ``notice``: Redis is up; no ``pong``/``error``: the client sends
nothing). The proxy counts the server→client frames of a connection from the
moment the fault reaches it, and here the fault is in place before the client
connects, so the welcome is frame 1 and the k-th event is frame k + 1:

* ``drop every 3`` drops frames 3, 6, 9, …: event k is missing iff (k + 1) % 3 == 0,
  i.e. events 2, 5, 8 of 10;
* ``reorder window 4 order reverse`` releases frames 1-4, 5-8, … each reversed, and
  the last, partial window reversed once ``flush`` has passed: the client sees
  e3 e2 e1 welcome, e7 e6 e5 e4, e11 e10 e9 e8, e13 e12.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from prism_stack import PrismStack
from websockets.sync.client import ClientConnection, connect

from chaosgate.injector import InjectionContext
from injectors.websocket import WebSocketInjector, WebSocketParams, WsProxyClient
from injectors.websocket.process import WebSocketProxyProcess

EVENTS_PATH = "/api/v1/events"
Frame = dict[str, Any]


@pytest.fixture(scope="module")
def wsproxy(prism: PrismStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSocketProxyProcess]:
    """The frame proxy in front of the API (prism.base_url is the API itself, not a Toxiproxy proxy)."""
    upstream = prism.base_url.replace("http://", "ws://", 1)
    with WebSocketProxyProcess("events", upstream, log_dir=tmp_path_factory.mktemp("wsproxy")) as running:
        yield running


@pytest.fixture
def control(wsproxy: WebSocketProxyProcess) -> Iterator[WsProxyClient]:
    """The proxy's control API; every test starts and ends with no fault on the proxy."""
    with WsProxyClient(wsproxy.control_url) as client:
        client.remove_all()
        try:
            yield client
        finally:
            client.remove_all()


def injector(wsproxy: WebSocketProxyProcess, fault: dict[str, Any], state_dir: Path) -> WebSocketInjector:
    context = InjectionContext("ws-reference", state_dir=state_dir, resources=wsproxy.resources)
    return WebSocketInjector(WebSocketParams.model_validate({"proxy": "events", "fault": fault}), context)


# -- subscriptions ------------------------------------------------------------------------------------


@contextlib.contextmanager
def direct(prism: PrismStack) -> Iterator[ClientConnection]:
    """The witness: straight to the API, token in the Authorization header, only new events."""
    url = prism.base_url.replace("http://", "ws://", 1) + EVENTS_PATH
    with connect(
        url,
        additional_headers={"Authorization": f"Bearer {prism.token('viewer')}"},
        proxy=None,
        open_timeout=5,
        close_timeout=2,
    ) as ws:
        yield ws


@contextlib.contextmanager
def through_proxy(
    wsproxy: WebSocketProxyProcess, prism: PrismStack, last_sequence: int
) -> Iterator[ClientConnection]:
    """Through the frame proxy, token in the query (as a browser would), resuming after `last_sequence`."""
    query = urlencode({"token": prism.token("viewer"), "last_sequence": last_sequence})
    with connect(f"{wsproxy.url}{EVENTS_PATH}?{query}", proxy=None, open_timeout=5, close_timeout=2) as ws:
        yield ws


def frames(ws: ClientConnection, count: int, seconds: float) -> list[Frame]:
    """The next `count` frames of any type, failing after `seconds` with what did arrive."""
    found: list[Frame] = []
    deadline = time.monotonic() + seconds
    while len(found) < count:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            found.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            pytest.fail(f"only {len(found)} of {count} frames arrived within {seconds}s: {found}")
    return found


def nothing_more(ws: ClientConnection, seconds: float = 0.8) -> None:
    """No further frame arrives within `seconds`."""
    with contextlib.suppress(TimeoutError):
        extra = ws.recv(timeout=seconds)
        pytest.fail(f"an unexpected extra frame arrived: {extra!r}")


def welcome(ws: ClientConnection) -> Frame:
    (first,) = frames(ws, 1, 5.0)
    assert first["type"] == "welcome", first
    return first


def create_agents(prism: PrismStack, api: httpx.Client, count: int) -> list[str]:
    prefix = f"wsinj-{uuid.uuid4().hex[:8]}"
    ids = []
    for index in range(count):
        response = api.post(
            "/api/v1/agents", json={"name": f"{prefix}-{index}"}, headers=prism.headers("operator")
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def server_sent(witness: ClientConnection, head: int, agent_ids: list[str]) -> list[Frame]:
    """The event frames the server sent after `head`: exactly one agent.created per agent, in order."""
    sent = frames(witness, len(agent_ids), 10.0)
    nothing_more(witness, 0.3)
    assert [frame["type"] for frame in sent] == ["event"] * len(agent_ids), sent
    assert [frame["sequence"] for frame in sent] == list(range(head + 1, head + 1 + len(agent_ids))), sent
    assert [(f["event_type"], f["data"]["agent_id"]) for f in sent] == [
        ("agent.created", agent_id) for agent_id in agent_ids
    ]
    return sent


def sequences(received: list[Frame]) -> list[int | str]:
    return [frame["sequence"] if frame["type"] == "event" else frame["type"] for frame in received]


# -- the tests ------------------------------------------------------------------------------------------


def test_drop_every_third_frame_then_a_resumed_subscription_fills_the_gap(
    prism: PrismStack,
    api: httpx.Client,
    wsproxy: WebSocketProxyProcess,
    control: WsProxyClient,
    tmp_path: Path,
) -> None:
    count = 10
    drop = injector(wsproxy, {"kind": "drop", "every": 3}, tmp_path)
    with direct(prism) as witness:
        head = welcome(witness)["resume_from"]
        try:
            drop.inject()
            assert [fault["name"] for fault in control.list_faults()] == [drop.created_fault]
            with through_proxy(wsproxy, prism, head) as client:
                hello = welcome(client)  # frame 1: not dropped
                assert (hello["resume_from"], hello["head"]) == (head, head)
                sent = server_sent(witness, head, create_agents(prism, api, count))
                stream = [hello, *sent]  # what the server sent on this connection, frame 1 first
                expected = [frame for position, frame in enumerate(stream, 1) if position % 3 != 0]
                seen = [hello, *frames(client, len(expected) - 1, 10.0)]
                nothing_more(client)
        finally:
            drop.revert()
    dropped = [head + 2, head + 5, head + 8]  # frames 3, 6, 9 = events 2, 5, 8
    assert sequences(seen) == sequences(expected)
    assert seen == expected, "the frames that passed must be the server's, unchanged"
    assert sorted(set(range(head + 1, head + count + 1)) - {f["sequence"] for f in seen[1:]}) == dropped
    assert drop.final_counters == {"connections": 1, "frames": count + 1, "dropped": 3}
    assert control.list_faults() == []

    # The client sees its first gap after head + 1 and resumes there, through the (now clean) proxy.
    seen_sequences = [frame["sequence"] for frame in seen[1:]]
    resume_after = min(set(range(head + 1, max(seen_sequences) + 1)) - set(seen_sequences)) - 1
    assert resume_after == head + 1
    with through_proxy(wsproxy, prism, resume_after) as client:
        hello = welcome(client)
        assert (hello["resume_from"], hello["head"]) == (resume_after, head + count)
        replay = frames(client, count - 1, 10.0)
        nothing_more(client)
    assert replay == sent[1:], "the replay is every event after the resume point, as the server sent it"
    assert [frame["sequence"] for frame in replay if frame["sequence"] in dropped] == dropped
    replayed = Counter(frame["sequence"] for frame in replay)
    assert replayed == Counter(range(resume_after + 1, head + count + 1)), "each event exactly once"
    merged = {frame["sequence"]: frame for frame in [*seen[1:], *replay]}
    assert [merged[sequence] for sequence in sorted(merged)] == sent


def test_reorder_window_4_reverse_permutes_exactly_and_loses_nothing(
    prism: PrismStack,
    api: httpx.Client,
    wsproxy: WebSocketProxyProcess,
    control: WsProxyClient,
    tmp_path: Path,
) -> None:
    count, window, flush = 13, 4, 2.0  # 14 frames: three full windows and a partial one of 2
    fault = {"kind": "reorder", "window": window, "order": "reverse", "flush": "2s"}
    reorder = injector(wsproxy, fault, tmp_path)
    with direct(prism) as witness:
        head = welcome(witness)["resume_from"]
        with reorder, through_proxy(wsproxy, prism, head) as client:
            # The welcome is frame 1 of the first window: it is held until events 1-3 arrive.
            ids = create_agents(prism, api, count)
            produced = time.monotonic()  # event 12 reached the proxy about now: the last window's start
            sent = server_sent(witness, head, ids)
            received = frames(client, count + 1 - 2, 10.0)  # the three full windows
            received += frames(client, 2, 10.0)  # the partial window, released by its flush
            released = time.monotonic()
            nothing_more(client)
    hello = received[3]
    assert hello["type"] == "welcome", received
    assert hello["resume_from"] == head
    stream = [hello, *sent]  # what the server sent on this connection, frame 1 first
    windows = [stream[start : start + window] for start in range(0, len(stream), window)]
    expected = [frame for each in windows for frame in reversed(each)]
    e = [head + k for k in range(count + 1)]  # e[k]: the sequence of event k
    assert sequences(expected) == [
        e[3],
        e[2],
        e[1],
        "welcome",
        e[7],
        e[6],
        e[5],
        e[4],
        e[11],
        e[10],
        e[9],
        e[8],
        e[13],
        e[12],
    ]
    assert sequences(received) == sequences(expected)
    assert received == expected, "every frame arrives unchanged, in the configured permutation"
    assert sorted(f["sequence"] for f in received if f["type"] == "event") == [f["sequence"] for f in sent]
    # The partial window was held until its flush, not let go early.
    assert released - produced >= flush - 0.5, released - produced
    assert reorder.final_counters == {
        "connections": 1,
        "frames": count + 1,
        "windows": 4,
        "flushed": 1,
        "reordered": count + 1,
    }
    assert control.list_faults() == []
