"""The WebSocket frame proxy and the `websocket` injector, with real sockets on 127.0.0.1.

An upstream websockets server (threads, in this process) sends numbered frames
``{"seq": n, "t": <monotonic>}`` at a steady pace; the proxy runs as its own
process, as in production; clients use the synchronous websockets client.
Faults are set through the control API or the injector and checked against
exactly the frames the client saw.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response
from websockets.sync.client import ClientConnection, connect
from websockets.sync.server import Server, ServerConnection, serve
from websockets.typing import Subprotocol

from chaosgate.exceptions import ComponentMissing, InjectorError
from chaosgate.injector import InjectionContext
from chaosgate.ports import LOOPBACK, free_port
from injectors.websocket import WebSocketInjector, WebSocketParams, WsProxyClient, cleanup_all
from injectors.websocket.process import WebSocketProxyProcess

INTERVAL = 0.02
"""Seconds between two upstream frames."""

# -- the upstream server ---------------------------------------------------------------------------


def _serve_stream(ws: ServerConnection, query: dict[str, list[str]]) -> None:
    count = int(query.get("count", ["30"])[0])
    interval = float(query.get("interval", [str(INTERVAL)])[0])
    for seq in range(1, count + 1):
        ws.send(json.dumps({"seq": seq, "t": time.monotonic()}))
        time.sleep(interval)
    time.sleep(float(query.get("hold", ["0"])[0]))  # stay open a while after the last frame
    ws.close(1000, "end of stream")


def _serve_echo(ws: ServerConnection) -> None:
    request = ws.request
    assert request is not None
    ws.send(
        json.dumps(
            {
                "path": request.path,
                "headers": {key.lower(): value for key, value in request.headers.raw_items()},
                "subprotocol": ws.subprotocol,
            }
        )
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            message = ws.recv(timeout=0.5)
        except TimeoutError:
            continue
        except ConnectionClosed:
            return
        ws.send(message)


def _handler(ws: ServerConnection) -> None:
    assert ws.request is not None
    url = urlsplit(ws.request.path)
    query = parse_qs(url.query)
    try:
        if url.path == "/stream":
            _serve_stream(ws, query)
        elif url.path in ("/echo", "/private"):
            _serve_echo(ws)
        elif url.path == "/closes":
            ws.send("bye")
            ws.close(int(query["code"][0]), "closing as asked")
    except ConnectionClosed:
        pass


def _refuse_private(ws: ServerConnection, request: Request) -> Response | None:
    if request.path.startswith("/private") and request.headers.get("Authorization") != "Bearer good":
        response = ws.respond(401, "token required\n")
        response.headers["WWW-Authenticate"] = 'Bearer realm="events"'
        return response
    return None


def _pick_v1(ws: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    return Subprotocol("chaos.v1") if "chaos.v1" in offered else None


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server: Server = serve(
        _handler,
        LOOPBACK,
        0,
        process_request=_refuse_private,
        select_subprotocol=_pick_v1,
        ping_interval=None,
    )
    thread = threading.Thread(target=server.serve_forever, name="ws-upstream", daemon=True)
    thread.start()
    yield f"ws://{LOOPBACK}:{server.socket.getsockname()[1]}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def proxy(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebSocketProxyProcess]:
    with WebSocketProxyProcess("events", upstream, log_dir=tmp_path_factory.mktemp("wsproxy")) as running:
        yield running


@pytest.fixture
def control(proxy: WebSocketProxyProcess) -> Iterator[WsProxyClient]:
    with WsProxyClient(proxy.control_url) as client:
        client.remove_all()
        yield client
        client.remove_all()


# -- helpers -----------------------------------------------------------------------------------------


@dataclass
class Seen:
    """What one client saw: the frames (seq, arrival) and how the connection ended."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    ended_after: float = 0.0

    @property
    def seqs(self) -> list[int]:
        return [int(frame["seq"]) for frame in self.frames]


def _open(proxy: WebSocketProxyProcess, path: str, **options: Any) -> ClientConnection:
    return connect(f"{proxy.url}{path}", proxy=None, open_timeout=5, ping_interval=None, **options)


def _read_all(ws: ClientConnection, limit: float = 10.0) -> Seen:
    """Every frame until the connection closes (or `limit` seconds pass)."""
    seen = Seen()
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            message = ws.recv(timeout=limit)
        except ConnectionClosed as closed:
            seen.close_code = closed.rcvd.code if closed.rcvd else 1006
            seen.close_reason = closed.rcvd.reason if closed.rcvd else ""
            break
        except TimeoutError:
            break
        seen.arrivals.append(time.monotonic())
        seen.frames.append(json.loads(message))
    seen.ended_after = time.monotonic() - started
    return seen


def _stream(proxy: WebSocketProxyProcess, count: int = 30, interval: float = INTERVAL) -> Seen:
    with _open(proxy, f"/stream?count={count}&interval={interval}") as ws:
        return _read_all(ws)


def _injector(
    proxy: WebSocketProxyProcess, fault: dict[str, Any], run_id: str = "wsrun", **ctx: Any
) -> WebSocketInjector:
    context = InjectionContext(run_id, resources=proxy.resources, **ctx)
    return WebSocketInjector(WebSocketParams.model_validate({"proxy": "events", "fault": fault}), context)


# -- relay without faults ----------------------------------------------------------------------------


def test_without_faults_every_frame_arrives_in_order(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    seen = _stream(proxy)
    assert seen.seqs == list(range(1, 31))
    assert (seen.close_code, seen.close_reason) == (1000, "end of stream")


def test_path_query_headers_and_subprotocol_reach_the_upstream(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    headers = {"Authorization": "Bearer good", "Cookie": "session=abc", "X-Trace": "t-1"}
    with _open(
        proxy,
        "/echo?topic=agents&since=5",
        additional_headers=headers,
        subprotocols=[Subprotocol("chaos.v2"), Subprotocol("chaos.v1")],
    ) as ws:
        hello = json.loads(ws.recv(timeout=5))
        ws.send("ping-1")
        ws.send(b"\x00\x01binary")
        echoed = [ws.recv(timeout=5), ws.recv(timeout=5)]
        assert ws.subprotocol == "chaos.v1"
    assert hello["path"] == "/echo?topic=agents&since=5"
    assert hello["subprotocol"] == "chaos.v1"
    for key, value in headers.items():
        assert hello["headers"][key.lower()] == value
    assert hello["headers"]["x-forwarded-for"] == LOOPBACK
    assert echoed == ["ping-1", b"\x00\x01binary"]  # text stays text, binary stays binary


def test_an_upstream_refusal_reaches_the_client_as_is(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        _open(proxy, "/private")
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"] == 'Bearer realm="events"'
    with _open(proxy, "/private", additional_headers={"Authorization": "Bearer good"}) as ws:
        assert json.loads(ws.recv(timeout=5))["path"] == "/private"


def test_the_upstream_close_code_is_passed_on(proxy: WebSocketProxyProcess, control: WsProxyClient) -> None:
    with _open(proxy, "/closes?code=4001") as ws:
        assert ws.recv(timeout=5) == "bye"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "closing as asked")


def test_an_unreachable_upstream_is_a_502(tmp_path: Path) -> None:
    dead = f"ws://{LOOPBACK}:{free_port()}"
    with (
        WebSocketProxyProcess("dead", dead, log_dir=tmp_path) as lonely,
        pytest.raises(InvalidStatus) as refused,
    ):
        _open(lonely, "/stream")
    assert refused.value.response.status_code == 502


# -- each fault --------------------------------------------------------------------------------------


def test_drop_every_third_frame(proxy: WebSocketProxyProcess, control: WsProxyClient) -> None:
    control.add_fault("drop3", {"kind": "drop", "every": 3})
    seen = _stream(proxy)
    assert seen.seqs == [n for n in range(1, 31) if n % 3 != 0]
    counters = control.get_fault("drop3")["counters"]
    assert (counters["frames"], counters["dropped"]) == (30, 10)


def test_drop_with_a_seed_hits_the_frames_the_seed_says(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    control.add_fault("coin", {"kind": "drop", "probability": 0.5, "seed": 7})
    draws = random.Random(7)
    expected = [n for n in range(1, 31) if not draws.random() < 0.5]
    assert _stream(proxy).seqs == expected


def test_duplicate_every_second_frame(proxy: WebSocketProxyProcess, control: WsProxyClient) -> None:
    control.add_fault("dup2", {"kind": "duplicate", "every": 2})
    seen = _stream(proxy, count=10)
    assert seen.seqs == [1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8, 9, 10, 10]
    assert control.get_fault("dup2")["counters"]["duplicated"] == 5


def test_reorder_reverses_each_window_and_loses_nothing(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    control.add_fault("rev3", {"kind": "reorder", "window": 3})
    seen = _stream(proxy)
    assert seen.seqs == [n for start in range(1, 31, 3) for n in (start + 2, start + 1, start)]


def test_reorder_shuffle_follows_its_seed_and_flushes_a_partial_window(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    shuffle = {"kind": "reorder", "window": 4, "order": "shuffle", "seed": 11, "flush": "300ms"}
    control.add_fault("mix", shuffle)
    draws = random.Random(11)
    expected: list[int] = []
    for start in (1, 5, 9):  # 10 frames: windows 1-4, 5-8, then 9-10 released when the upstream closes
        window = list(range(start, min(start + 4, 11)))
        order = list(range(len(window)))
        draws.shuffle(order)
        expected += [window[i] for i in order]
    seen = _stream(proxy, count=10)
    assert seen.seqs == expected
    assert sorted(seen.seqs) == list(range(1, 11))


def test_reorder_flush_releases_a_window_that_does_not_fill(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    control.add_fault("slow", {"kind": "reorder", "window": 50, "flush": "250ms"})
    with _open(proxy, "/stream?count=3&interval=0.01&hold=2") as ws:
        started = time.monotonic()
        first = json.loads(ws.recv(timeout=5))
        waited = time.monotonic() - started
        rest = [json.loads(ws.recv(timeout=5))["seq"] for _ in range(2)]
    assert [first["seq"], *rest] == [3, 2, 1]
    assert 0.2 <= waited < 2.0
    assert control.get_fault("slow")["counters"]["flushed"] == 1


def test_delay_adds_at_least_its_latency_to_every_frame(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    control.add_fault("slow", {"kind": "delay", "latency": "200ms", "jitter": "20ms"})
    seen = _stream(proxy, count=30)
    assert seen.seqs == list(range(1, 31))  # order is kept
    lags = [arrival - frame["t"] for frame, arrival in zip(seen.frames, seen.arrivals, strict=True)]
    assert min(lags) >= 0.2
    assert max(lags) < 2.0  # per frame, not accumulated: the 30th would lag 6 s


def test_cut_after_n_frames_with_a_close_code(proxy: WebSocketProxyProcess, control: WsProxyClient) -> None:
    control.add_fault("cut5", {"kind": "cut", "after_frames": 5, "code": 1011, "reason": "chaos"})
    seen = _stream(proxy)
    assert seen.seqs == [1, 2, 3, 4, 5]
    assert (seen.close_code, seen.close_reason) == (1011, "chaos")
    assert control.get_fault("cut5")["counters"]["cut"] == 1


def test_cut_after_zero_frames_closes_new_connections_at_once(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    control.add_fault("reject", {"kind": "cut", "after_frames": 0, "code": 1013, "reason": "try later"})
    seen = _stream(proxy, count=30, interval=0.2)
    assert seen.seqs == []
    assert (seen.close_code, seen.close_reason) == (1013, "try later")
    assert seen.ended_after < 2.0  # at once, not after the 6 s the stream would last


def test_cut_after_a_time_drops_the_tcp_connection(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    control.add_fault("cut-t", {"kind": "cut", "after": "400ms"})  # default code 1006: no close frame
    seen = _stream(proxy, count=100, interval=0.05)  # 5 s uncut
    assert seen.close_code == 1006
    assert 0.35 <= seen.ended_after < 2.5
    assert seen.seqs == list(range(1, len(seen.seqs) + 1))
    assert 2 <= len(seen.seqs) < 50


def test_silence_keeps_the_connection_open_drops_frames_and_answers_no_ping(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    control.add_fault("hush", {"kind": "silence"})
    with _open(proxy, "/stream?count=150&interval=0.02") as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.6)
        pong = ws.ping()
        assert not pong.wait(0.4)  # no pong while silent
        control.remove_fault("hush")
        resumed = json.loads(ws.recv(timeout=2))
        after = [json.loads(ws.recv(timeout=2))["seq"] for _ in range(3)]
        assert ws.ping().wait(2)  # pings are answered again
    assert resumed["seq"] > 20  # what was sent during the silence is gone, not queued
    assert after == [resumed["seq"] + 1, resumed["seq"] + 2, resumed["seq"] + 3]


def test_faults_reach_open_connections_and_removal_restores_the_relay(
    proxy: WebSocketProxyProcess, control: WsProxyClient
) -> None:
    with _open(proxy, "/stream?count=300&interval=0.01") as ws:
        seqs = [json.loads(ws.recv(timeout=2))["seq"] for _ in range(3)]
        control.add_fault("drop-all", {"kind": "drop", "every": 1})
        time.sleep(0.3)
        control.remove_fault("drop-all")
        # Frames relayed before the fault may still wait in the client's buffer: read past the gap.
        for _ in range(200):
            seqs.append(json.loads(ws.recv(timeout=2))["seq"])
            gaps = [(a, b) for a, b in itertools.pairwise(seqs) if b != a + 1]
            if gaps and seqs[-1] >= gaps[0][1] + 4:
                break
    assert seqs[:3] == [1, 2, 3]
    (gap,) = gaps  # one hole, where the fault was: the relay is whole again before and after it
    assert gap[1] - gap[0] > 10  # ~30 frames were dropped in between
    assert control.list_faults() == []


def test_two_clients_at_once_each_see_the_fault(proxy: WebSocketProxyProcess, control: WsProxyClient) -> None:
    control.add_fault("drop3", {"kind": "drop", "every": 3})
    results: list[Seen] = []
    threads = [threading.Thread(target=lambda: results.append(_stream(proxy))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert len(results) == 2
    for seen in results:
        assert seen.seqs == [n for n in range(1, 31) if n % 3 != 0]
    assert control.get_fault("drop3")["counters"]["connections"] == 2


# -- the control API -------------------------------------------------------------------------------


def test_control_api_errors_say_what_is_wrong(proxy: WebSocketProxyProcess, control: WsProxyClient) -> None:
    with httpx.Client(base_url=proxy.control_url, trust_env=False, timeout=5) as http:
        assert http.get("/health").json()["status"] == "ok"
        bad = http.post("/faults", json={"name": "x", "kind": "drop", "every": 2, "probability": 0.5})
        assert bad.status_code == 400
        assert "exactly one of `probability`" in bad.json()["error"]
        assert http.post("/faults", json={"name": "x", "kind": "explode"}).status_code == 400
        assert http.post("/faults", content=b"{nope").status_code == 400
        assert http.post("/faults", json={"name": "x", "kind": "silence"}).status_code == 201
        assert http.post("/faults", json={"name": "x", "kind": "silence"}).status_code == 409
        assert http.delete("/faults/unknown").status_code == 404
        assert http.put("/faults").status_code == 405
        assert http.get("/nothing").status_code == 404
        assert [fault["name"] for fault in http.get("/faults").json()["faults"]] == ["x"]


# -- the injector ----------------------------------------------------------------------------------


def test_the_injector_adds_a_named_fault_and_reverts_it(
    proxy: WebSocketProxyProcess, control: WsProxyClient, tmp_path: Path
) -> None:
    injector = _injector(proxy, {"kind": "drop", "every": 3}, state_dir=tmp_path)
    assert injector.describe() == "websocket: drop every 3rd frame on proxy events"
    with injector:
        assert injector.created_fault is not None
        assert injector.created_fault.startswith("chaosgate_wsrun_")
        assert [fault["name"] for fault in control.list_faults()] == [injector.created_fault]
        assert len(list((tmp_path / "websocket").glob("*.json"))) == 1  # found by cleanup after a SIGKILL
        assert _stream(proxy, count=9).seqs == [1, 2, 4, 5, 7, 8]
    assert control.list_faults() == []
    assert injector.final_counters["dropped"] == 3
    assert list((tmp_path / "websocket").glob("*.json")) == []
    assert _stream(proxy, count=5).seqs == [1, 2, 3, 4, 5]


def test_cleanup_removes_only_chaosgate_faults(
    proxy: WebSocketProxyProcess, control: WsProxyClient, tmp_path: Path
) -> None:
    for run in ("a", "b"):
        _injector(proxy, {"kind": "silence"}, run_id=run, state_dir=tmp_path).inject()
    control.add_fault("someone-elses", {"kind": "delay", "latency": 0})
    assert len(cleanup_all(control, run_id="a")) == 1
    context = InjectionContext("cleanup", state_dir=tmp_path, resources=proxy.resources)
    lines = WebSocketInjector.cleanup(context)
    assert len(lines) == 1
    assert "chaosgate_b_" in lines[0]
    assert [fault["name"] for fault in control.list_faults()] == ["someone-elses"]
    assert WebSocketInjector.cleanup(context) == []


def test_an_unknown_or_unreachable_proxy_is_an_error(proxy: WebSocketProxyProcess, tmp_path: Path) -> None:
    context = InjectionContext("r", state_dir=tmp_path, resources=proxy.resources)
    unknown = WebSocketParams.model_validate({"proxy": "nope", "fault": {"kind": "silence"}})
    with pytest.raises(InjectorError, match=r"no WebSocket proxy named 'nope' \(known: events\)"):
        WebSocketInjector(unknown, context).inject()
    nowhere = f"http://{LOOPBACK}:{free_port()}"
    gone = WebSocketParams.model_validate({"proxy": nowhere, "fault": {"kind": "silence"}})
    with pytest.raises(ComponentMissing, match="no WebSocket proxy answers"):
        WebSocketInjector(gone, context).inject()
    assert list((tmp_path / "websocket").glob("*.json")) == []  # nothing recorded for what was not added


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "drop"}, "exactly one of `probability`"),
        ({"kind": "drop", "every": 0}, "greater than or equal to 1"),
        ({"kind": "drop", "probability": 1.5}, "less than or equal to 1"),
        ({"kind": "duplicate", "every": 2, "copies": 11}, "less than or equal to 10"),
        ({"kind": "delay", "latency": "soon"}, "expected a duration"),
        ({"kind": "reorder", "window": 1}, "greater than or equal to 2"),
        ({"kind": "reorder", "window": 3, "order": "random"}, "'reverse' or 'shuffle'"),
        ({"kind": "cut"}, "exactly one of `after_frames`"),
        ({"kind": "cut", "after_frames": 2, "code": 1005}, "cannot be sent"),
        ({"kind": "cut", "after": "1s", "reason": "x"}, "cannot carry a `reason`"),
        ({"kind": "silence", "for": "1s"}, "Extra inputs"),
        ({"kind": "teleport"}, "does not match any of the expected tags"),
    ],
)
def test_invalid_faults_are_rejected_before_anything_runs(fault: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WebSocketParams.model_validate({"proxy": "events", "fault": fault})


def test_durations_are_parsed_and_faults_summarised() -> None:
    params = WebSocketParams.model_validate({"proxy": "p", "fault": {"kind": "delay", "latency": "1.5s"}})
    assert params.fault.model_dump(mode="json")["latency"] == 1.5
    cut = WebSocketParams.model_validate(
        {"proxy": "p", "fault": {"kind": "cut", "after_frames": 3, "code": 1011}},
    )
    assert cut.fault.summary() == "cut connections after 3 frames, with close code 1011"
