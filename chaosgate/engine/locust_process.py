"""The load generator's own process: locust, away from the asyncio engine (R2.3, R4.1).

locust monkey-patches the standard library for gevent on import, which must
never happen inside the engine; the engine runs this module with
``python -m chaosgate.engine.locust_process SPEC.json`` instead. Every
request is written as one JSON line with a timestamp on the scenario clock
(the system-wide monotonic clock minus the engine's zero), so load samples
and probe samples line up. Modes: ``local`` (one process), ``master`` and
``worker`` (locust's distributed mode, for more load than one process gives).
"""

# ruff: noqa: E402 - locust must patch the standard library before anything else is imported
from gevent import monkey

monkey.patch_all()

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, constant
from locust.env import Environment
from locust.runners import MasterRunner, Runner

WORKER_WAIT = 30.0


def _user_class(spec: dict[str, Any]) -> type[FastHttpUser]:
    def make_task(entry: dict[str, Any]) -> Any:
        name = entry.get("name") or f"{entry['method']} {entry['path']}"

        def run(user: FastHttpUser) -> None:
            user.client.request(
                entry["method"],
                entry["path"],
                name=name,
                headers=entry.get("headers") or None,
                json=entry.get("json"),
            )

        return run

    tasks = {make_task(entry): int(entry.get("weight", 1)) for entry in spec["mix"]}
    timeout = float(spec.get("timeout", 10.0))
    return type(
        "ScenarioUser",
        (FastHttpUser,),
        {
            "host": spec["base_url"],
            "wait_time": constant(float(spec.get("think_time", 0.0))),
            "tasks": tasks,
            "insecure": not spec.get("verify", True),
            "network_timeout": timeout,
            "connection_timeout": timeout,
        },
    )


FLUSH_EVERY = 0.25
"""Seconds between flushes: the engine stops the load with SIGTERM (or worse) when sampling
ends, and whatever sits in the buffer then is lost."""


class SampleWriter:
    """One JSON line per request, on the engine's clock."""

    def __init__(self, path: Path, zero: float) -> None:
        self.file = path.open("a", encoding="utf-8")
        self.zero = zero
        self.count = 0
        self.flushed = time.monotonic()

    def on_request(  # noqa: PLR0917 - the signature is locust's
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        exception: BaseException | None = None,
        **_: Any,
    ) -> None:
        latency = (response_time or 0.0) / 1000.0
        # A status the server answered, 5xx included, is the status (its exception only says
        # "bad status"); 0 and the exception mean no answer: refused, reset, timed out.
        status = int(getattr(response, "status_code", 0) or 0)
        record = {
            "t": time.monotonic() - self.zero - latency,
            "latency": latency,
            "status": status,
            "request": name,
            "error": None if exception is None or status else f"{type(exception).__name__}: {exception}",
        }
        self.file.write(json.dumps(record) + "\n")
        self.count += 1
        if time.monotonic() - self.flushed >= FLUSH_EVERY:
            self.file.flush()
            self.flushed = time.monotonic()

    def close(self) -> None:
        self.file.flush()
        self.file.close()


def _run(spec: dict[str, Any]) -> int:
    env = Environment(user_classes=[_user_class(spec)])
    mode = spec.get("mode", "local")
    writer = None
    runner: Runner
    if mode != "master":
        writer = SampleWriter(Path(spec["out"]), float(spec["clock_zero"]))
        env.events.request.add_listener(writer.on_request)  # type: ignore[no-untyped-call]
    try:
        if mode == "worker":
            runner = env.create_worker_runner(spec["master_host"], int(spec["master_port"]))
            # The master tells workers when to stop; the deadline bounds a lost master.
            with gevent.Timeout(float(spec["duration"]) + WORKER_WAIT + 30, False):
                runner.greenlet.join()
            return 0
        if mode == "master":
            master: MasterRunner = env.create_master_runner(
                master_bind_host="127.0.0.1", master_bind_port=int(spec["master_port"])
            )
            deadline = time.monotonic() + WORKER_WAIT
            while len(master.clients.ready) < int(spec["workers"]) and time.monotonic() < deadline:
                gevent.sleep(0.1)
            if len(master.clients.ready) < int(spec["workers"]):
                ready = len(master.clients.ready)
                sys.stderr.write(f"only {ready} of {spec['workers']} load workers connected\n")
                master.quit()
                return 3
            runner = master
        else:
            runner = env.create_local_runner()
        runner.start(int(spec["users"]), spawn_rate=float(spec["spawn_rate"]))
        gevent.sleep(float(spec["duration"]))
        runner.quit()
        return 0
    finally:
        if writer is not None:
            writer.close()


def _stop_on_sigterm() -> None:
    """SIGTERM ends the run through its `finally`, so the last samples are written."""
    main_greenlet = gevent.getcurrent()
    gevent.signal_handler(signal.SIGTERM, lambda: main_greenlet.throw(SystemExit(143)))


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    _stop_on_sigterm()
    return _run(spec)


if __name__ == "__main__":
    raise SystemExit(main())
