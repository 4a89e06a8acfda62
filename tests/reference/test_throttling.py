"""WebSocket throttling under overload (R5.2): 10 events per 5 s, priority events at once, notices."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from prism_stack import PrismStack
from websockets.sync.client import ClientConnection, connect


def _receive_for(ws: ClientConnection, seconds: float) -> list[tuple[float, dict[str, Any]]]:
    """Every frame arriving within ``seconds``, with its arrival time (monotonic)."""
    frames: list[tuple[float, dict[str, Any]]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            raw = ws.recv(timeout=left)
        except TimeoutError:
            break
        frames.append((time.monotonic(), json.loads(raw)))
    return frames


def test_overload_throttles_ordinary_events_but_not_priority_ones(
    prism: PrismStack, api: httpx.Client
) -> None:
    url = prism.base_url.replace("http://", "ws://") + "/api/v1/events"
    operator = prism.headers("operator")
    admin = {"Authorization": f"Bearer {prism.token('admin')}"}
    with connect(
        url, additional_headers=prism.headers("viewer"), proxy=None, open_timeout=5, close_timeout=2
    ) as ws:
        welcome = json.loads(ws.recv(timeout=5))
        assert welcome["type"] == "welcome"
        prism.inject("cpu_pressure", 60)
        try:
            notice = json.loads(ws.recv(timeout=3))
            assert notice["type"] == "notice"
            assert notice["code"] == "throttled"
            assert notice["batch_size"] == 10
            assert notice["interval_seconds"] == 5
            assert {"security.alert", "system.critical"} <= set(notice["priority_event_types"])
            started = time.monotonic()
            for index in range(25):
                created = api.post("/api/v1/agents", json={"name": f"throttled-{index}"}, headers=operator)
                assert created.status_code == 201
            alert_sent = time.monotonic()
            policy = api.put("/api/v1/policies/disable-export", json={"mode": "on"}, headers=admin)
            assert policy.status_code == 200, policy.text
            frames = _receive_for(ws, 6.0)
        finally:
            prism.revert_internal_faults()
            api.put("/api/v1/policies/disable-export", json={"mode": "off"}, headers=admin)
        events = [(at, frame) for at, frame in frames if frame["type"] == "event"]
        ordinary = [(at, f) for at, f in events if f["event_type"] == "agent.created"]
        alerts = [(at, f) for at, f in events if f["event_type"] == "security.alert"]
        assert len(alerts) == 1, frames
        # held back, it would wait for the next 5 s window; a generous deadline well before that
        assert alerts[0][0] - alert_sent < 3.0, "the priority event was held back"
        first_window = [f for at, f in ordinary if at - started < 4.5]
        assert len(first_window) <= 10, f"{len(first_window)} ordinary events in the first window"
        assert len(ordinary) <= 20, f"{len(ordinary)} ordinary events in ~6 s (two windows at most)"
        assert len(ordinary) >= 10
        before_alert = [f for at, f in ordinary if at < alerts[0][0]]
        assert len(before_alert) < 25  # it overtook held-back ordinary events

        rest = _receive_for(ws, 2.5)
        assert any(f["type"] == "notice" and f["code"] == "throttle_lifted" for _, f in rest), rest
        everything = [f for _, f in [*frames, *rest] if f["type"] == "event"]
        sequences = [f["sequence"] for f in everything]
        assert len(sequences) == len(set(sequences)), "an event was delivered twice"
        names = [f["data"]["name"] for f in everything if f["event_type"] == "agent.created"]
        assert sorted(names) == sorted(f"throttled-{i}" for i in range(25))
        in_order = [
            s for s, f in zip(sequences, everything, strict=True) if f["event_type"] != "security.alert"
        ]
        assert in_order == sorted(in_order)
