"""Start, bound and read the locust load process(es) of a scenario (R4.1).

The load runs in separate processes (see :mod:`chaosgate.engine.locust_process`),
each in its own process group so stopping the run stops them all. With
``workers > 0`` it runs in locust's master/worker mode on loopback: one master
that spreads users over N worker processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaosgate.engine.http import verify_tls
from chaosgate.engine.samples import Sample
from chaosgate.exceptions import InfrastructureError
from chaosgate.ports import free_port
from chaosgate.scenario.model import Load
from chaosgate.scenario.templating import render

GRACE = 15.0


class LoadProcess:
    """The locust process(es) of one scenario run."""

    def __init__(
        self,
        load: Load,
        *,
        base_url: str,
        clock_zero: float,
        work_dir: Path,
        context: Mapping[str, Any],
        workers: int = 0,
    ) -> None:
        self.load = load
        self.work_dir = work_dir
        self.workers = workers
        self.spec: dict[str, Any] = {
            "base_url": base_url,
            "users": load.users,
            "spawn_rate": load.spawn_rate,
            "duration": load.duration,
            "think_time": load.think_time,
            "verify": verify_tls(base_url),
            "clock_zero": clock_zero,
            "mix": [
                {
                    "name": entry.name,
                    "method": entry.method,
                    "path": render(entry.path, context),
                    "headers": render(dict(entry.headers), context),
                    "json": render(entry.json_body, context),
                    "weight": entry.weight,
                }
                for entry in load.mix
            ],
        }
        self._procs: list[subprocess.Popen[bytes]] = []
        self.outputs: list[Path] = []

    def _launch(self, name: str, spec: dict[str, Any]) -> None:
        spec_path = self.work_dir / f"{name}.json"
        spec_path.write_text(json.dumps(spec))
        log = (self.work_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "chaosgate.engine.locust_process", str(spec_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self._procs.append(proc)

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.workers <= 0:
            out = self.work_dir / "load-samples.jsonl"
            self.outputs.append(out)
            self._launch("load", {**self.spec, "mode": "local", "out": str(out)})
            return
        port = free_port()
        self._launch(
            "load-master", {**self.spec, "mode": "master", "master_port": port, "workers": self.workers}
        )
        for index in range(self.workers):
            out = self.work_dir / f"load-samples-{index + 1}.jsonl"
            self.outputs.append(out)
            spec = {
                **self.spec,
                "mode": "worker",
                "master_host": "127.0.0.1",
                "master_port": port,
                "out": str(out),
            }
            self._launch(f"load-worker-{index + 1}", spec)

    def wait(self) -> None:
        """Wait for the load to finish by itself, bounded by its duration plus a grace period."""
        deadline = time.monotonic() + self.load.duration + GRACE + (30 if self.workers else 0)
        for proc in self._procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                break
        self.stop()
        failed = [p for p in self._procs if p.returncode not in (0, -signal.SIGTERM)]
        if failed:
            logs = "; ".join(str(self.work_dir / "*.log") for _ in failed[:1])
            raise InfrastructureError(f"the load generator failed (exit {failed[0].returncode}); see {logs}")

    def stop(self) -> None:
        """SIGTERM every load process group, then SIGKILL what remains."""
        for proc in self._procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def samples(self) -> list[Sample]:
        """Every request the load made, as samples of source `load`."""
        out: list[Sample] = []
        for path in self.outputs:
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a killed process
                status = int(row["status"])
                out.append(
                    Sample(
                        source="load",
                        request=str(row["request"]),
                        t=float(row["t"]),
                        latency=float(row["latency"]),
                        status=status,
                        ok=status != 0 and status < 500,
                        error=row.get("error"),
                    )
                )
        return out
