"""The engine's own overhead: prints figures, asserts nothing (timings belong here, not in tests).

Runs a 30-second scenario (one fault, two probes at 10 Hz) against a small
local service behind a private Toxiproxy, then reports:

* wall time of `chaosgate run` minus the scenario's scheduled sampling time
  (setup, steady-state checks, target up/down, evaluation and reports);
* the sample rate each probe achieved (target: >= 10 samples/s per probe).

    .venv/bin/python benchmarks/engine_overhead.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from chaosgate.ports import free_port
from chaosgate.processes import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "tests" / "support" / "demo_service.py"


def scenario(seconds: float) -> dict[str, object]:
    fault_at, fault_for = seconds / 3, seconds / 3
    return {
        "id": "overhead",
        "title": "engine overhead benchmark",
        "target": "bench",
        "steady_state": [{"request": {"path": "/health"}, "expect": {"status": 200}}],
        "probes": [
            {"name": "health", "request": {"path": "/health"}, "every": "100ms"},
            {"name": "items", "request": {"path": "/items"}, "every": "100ms"},
        ],
        "faults": [
            {
                "injector": "toxiproxy",
                "proxy": "api",
                "toxic": {"type": "latency", "attributes": {"latency": 50}},
                "at": f"{fault_at}s",
                "for": f"{fault_for}s",
            }
        ],
        "observe": f"{seconds - fault_at - fault_for}s",
        "expect": {"during": [{"metric": "p95 < 1s", "of": "health"}]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        with ManagedProcess("demo", [sys.executable, str(DEMO), str(port)], port=port, log_dir=work):
            (work / "targets").mkdir()
            (work / "targets" / "bench.yaml").write_text(
                yaml.safe_dump({"kind": "url", "base_url": f"http://127.0.0.1:{port}"})
            )
            (work / "overhead.yaml").write_text(yaml.safe_dump(scenario(args.seconds)))
            started = time.monotonic()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "chaosgate",
                    "run",
                    "overhead.yaml",
                    "--out",
                    "out",
                    "--state-dir",
                    "state",
                ],
                cwd=work,
                check=False,
                capture_output=True,
            )
            wall = time.monotonic() - started
            results = json.loads((work / "out" / "results.json").read_text())
    (result,) = results["scenarios"]
    counts = result["sample_counts"]
    print(f"scheduled sampling time : {args.seconds:.1f} s")
    print(f"wall time of the run    : {wall:.2f} s")
    print(f"engine overhead         : {wall - args.seconds:.2f} s   (target < 2 s)")
    for name in ("health", "items"):
        print(
            f"probe {name:<8} rate    : {counts.get(name, 0) / args.seconds:.2f} samples/s   (target >= 10)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
