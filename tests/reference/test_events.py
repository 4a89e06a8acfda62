"""WS /api/v1/events: live delivery, resume from a sequence exactly once in order, Redis outage,
in-band re-authentication and expiry."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from prism_stack import REDIS_PROXY, PrismStack, proxy_down
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from reference_impl.settings import DEV_SECRET_KEY
from reference_impl.tokens import issue_access_token


@contextmanager
def stream(
    prism: PrismStack, *, token: str | None = None, last_sequence: int | None = None, headers: bool = True
) -> Iterator[ClientConnection]:
    url = prism.base_url.replace("http://", "ws://") + "/api/v1/events"
    if last_sequence is not None:
        url += f"?last_sequence={last_sequence}"
    token = token or prism.token("viewer")
    extra = {"Authorization": f"Bearer {token}"} if headers else {}
    with connect(url, additional_headers=extra, proxy=None, open_timeout=5, close_timeout=2) as ws:
        yield ws


def receive(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return message


def events(ws: ClientConnection, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next ``count`` event frames (notices skipped), failing after ``timeout``."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(found)} of {count} events arrived: {found}"
        message = receive(ws, left)
        if message["type"] == "event":
            found.append(message)
    return found


def no_more_events(ws: ClientConnection, seconds: float = 0.8) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = receive(ws, left)
        except TimeoutError:
            return
        assert message["type"] != "event", f"unexpected extra event {message}"


def create_agents(prism: PrismStack, api: httpx.Client, prefix: str, count: int) -> list[str]:
    ids = []
    for index in range(count):
        response = api.post(
            "/api/v1/agents", json={"name": f"{prefix}-{index}"}, headers=prism.headers("operator")
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def assert_in_order(received: list[dict[str, Any]], after: int, agent_ids: list[str]) -> None:
    sequences = [message["sequence"] for message in received]
    assert sequences == list(range(after + 1, after + 1 + len(received))), sequences
    assert [m["data"]["agent_id"] for m in received if m["event_type"] == "agent.created"] == agent_ids


def test_live_events_arrive_in_order(prism: PrismStack, api: httpx.Client) -> None:
    with stream(prism) as ws:
        welcome = receive(ws)
        assert welcome["type"] == "welcome"
        head = welcome["head"]
        assert welcome["resume_from"] == head
        ids = create_agents(prism, api, "live", 3)
        assert_in_order(events(ws, 3), head, ids)


def test_resume_from_last_sequence_exactly_once(prism: PrismStack, api: httpx.Client) -> None:
    with stream(prism) as ws:
        head = receive(ws)["head"]
    missed = create_agents(prism, api, "missed", 4)
    with stream(prism, last_sequence=head) as ws:
        assert receive(ws)["resume_from"] == head
        assert_in_order(events(ws, 4), head, missed)
        no_more_events(ws)
    # Resuming from the middle gives only the rest.
    with stream(prism, last_sequence=head + 2) as ws:
        receive(ws)
        assert [m["sequence"] for m in events(ws, 2)] == [head + 3, head + 4]
        no_more_events(ws)


def test_events_produced_during_redis_outage_follow_in_order(prism: PrismStack, api: httpx.Client) -> None:
    with stream(prism) as ws:
        head = receive(ws)["head"]
        with proxy_down(prism, REDIS_PROXY):
            ids = create_agents(prism, api, "buffered", 3)
            notice = receive(ws, timeout=5.0)
            assert notice == {
                "type": "notice",
                "code": "event_log_unavailable",
                "message": "events are buffered and will follow in order",
            }
        received = events(ws, 3, timeout=10.0)
        assert_in_order(received, head, ids)
        no_more_events(ws)


def test_events_survive_an_api_restart(prism: PrismStack, api: httpx.Client) -> None:
    with stream(prism) as ws:
        head = receive(ws)["head"]
    ids = create_agents(prism, api, "before-restart", 2)
    prism.api.stop()
    prism.api.start()
    prism.wait_healthy()
    ids += create_agents(prism, api, "after-restart", 1)
    with stream(prism, last_sequence=head) as ws:
        receive(ws)
        assert_in_order(events(ws, 3), head, ids)


def test_unauthenticated_connection_is_closed_4401(prism: PrismStack) -> None:
    with stream(prism, headers=False) as ws:
        assert receive(ws)["code"] == "token_missing"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


def test_token_query_parameter_and_ping(prism: PrismStack) -> None:
    url = prism.base_url.replace("http://", "ws://") + f"/api/v1/events?token={prism.token('viewer')}"
    with connect(url, proxy=None, open_timeout=5) as ws:
        assert receive(ws)["type"] == "welcome"
        ws.send(json.dumps({"type": "ping"}))
        assert receive(ws)["type"] == "pong"
        ws.send("not json")
        assert receive(ws)["code"] == "unknown_message"


def test_in_band_reauthentication_keeps_the_connection(prism: PrismStack, api: httpx.Client) -> None:
    # A token 301 s from expiry: the server warns (5 minutes before expiry) almost at once.
    short, _claims = issue_access_token(DEV_SECRET_KEY, "viewer", "viewer", str(uuid.uuid4()), ttl=301)
    with stream(prism, token=short) as ws:
        head = receive(ws)["head"]
        warning = receive(ws, timeout=5.0)
        assert warning["type"] == "token_expiring"
        ws.send(json.dumps({"type": "reauth", "token": prism.token("viewer")}))
        assert receive(ws)["type"] == "reauth_ok"
        ids = create_agents(prism, api, "after-reauth", 1)
        assert_in_order(events(ws, 1), head, ids)


def test_expired_token_closes_the_stream(prism: PrismStack) -> None:
    short, _claims = issue_access_token(DEV_SECRET_KEY, "viewer", "viewer", str(uuid.uuid4()), ttl=2)
    with stream(prism, token=short) as ws:
        assert receive(ws)["type"] == "welcome"
        assert receive(ws)["type"] == "token_expiring"
        ws.send(json.dumps({"type": "reauth", "token": "garbage"}))
        assert receive(ws)["type"] == "reauth_failed"
        expired = receive(ws, timeout=5.0)
        assert expired["code"] == "token_expired"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


def _next_event_of(ws: ClientConnection, event_type: str, timeout: float) -> dict[str, Any]:
    """The first event of ``event_type`` within ``timeout`` (other events and notices skipped)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = receive(ws, left)
        if message["type"] == "event" and message["event_type"] == event_type:
            return message
    raise AssertionError(f"no {event_type} event within {timeout}s")


def test_refresh_token_reuse_is_announced_as_a_security_breach(prism: PrismStack, api: httpx.Client) -> None:
    pair = api.post("/api/v1/auth/token", json={"client_id": "viewer", "client_secret": "viewer-dev-secret"})
    refresh = pair.json()["refresh_token"]
    with stream(prism) as ws:
        assert receive(ws)["type"] == "welcome"
        assert api.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 200
        assert api.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 401
        breach = _next_event_of(ws, "security.breach.detected", 10.0)
    assert breach["data"]["kind"] == "refresh_token_reuse"
    assert breach["data"]["family_id"]


def test_overload_is_announced_once_as_system_resource_critical(prism: PrismStack) -> None:
    with stream(prism) as ws:
        assert receive(ws)["type"] == "welcome"
        prism.inject("cpu_pressure", 30)
        try:
            critical = _next_event_of(ws, "system.resource.critical", 10.0)
            time.sleep(2.5)  # more collector periods of the same episode
        finally:
            prism.revert_internal_faults()
        assert "cpu" in critical["data"]["reason"]
        again = [
            frame for frame in _frames_for(ws, 6.0) if frame.get("event_type") == "system.resource.critical"
        ]
        assert again == [], "one overload episode must be announced once"


def _frames_for(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frames.append(receive(ws, left))
        except TimeoutError:
            break
    return frames
