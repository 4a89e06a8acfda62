"""How many requests/s one chaosgate load worker makes, beside ``wrk`` on the same endpoint.

Not a test: run it by hand (about a minute)::

    .venv/bin/python benchmarks/load_throughput.py [--duration 10] [--connections 8] [--no-httpuser]

It starts PostgreSQL, Redis and the reference API (one uvicorn worker) on
free loopback ports (as ``benchmarks/reference_api.py`` does), then drives
``GET /api/v1/agents`` for ``--duration`` seconds each, one after the other:

* ``wrk`` with ``--connections`` keep-alive connections (one thread): what
  the API serves when the load generator costs next to nothing;
* one chaosgate load worker: ``chaosgate.engine.loadgen.LoadProcess``, the
  locust process a scenario's ``load:`` runs (``FastHttpUser``), with as many
  users as wrk has connections and no think time, every request written as
  a sample, as in a run;
* for comparison, plain locust with ``HttpUser`` (``requests``), the user
  class the load process used before, through locust's own headless CLI.

A load worker is one process on one core; the API gets the other. Where the
worker's figure is well under wrk's, the generator is the bottleneck, and
``--load-workers N`` (locust's master/worker mode) adds cores.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reference_api import run_load, seeded_api  # the sibling script, on sys.path as this one's folder

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from chaosgate.engine.loadgen import LoadProcess  # noqa: E402
from chaosgate.scenario.model import Load, LoadRequest  # noqa: E402

PATH = "/api/v1/agents"
HTTPUSER_LOCUSTFILE = """
from locust import HttpUser, task

class Agents(HttpUser):
    @task
    def agents(self):
        self.client.get({path!r}, headers={{"Authorization": "Bearer {token}"}})
"""


def load_worker(base: str, token: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    """One chaosgate load process: requests/s over its whole duration, and its non-2xx count."""
    load = Load(
        users=args.connections,
        spawn_rate=args.connections,
        duration=args.duration,
        mix=[LoadRequest(method="GET", path=PATH, headers={"Authorization": f"Bearer {token}"})],
    )
    process = LoadProcess(load, base_url=base, clock_zero=time.monotonic(), work_dir=work, context={})
    process.start()
    process.wait()
    samples = process.samples()
    span = max(s.t + s.latency for s in samples) - min(s.t for s in samples)
    latencies = sorted(s.latency for s in samples)
    return {
        "requests": len(samples),
        "rate": len(samples) / span,
        "p95": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "non_2xx": sum(not 200 <= s.status < 300 for s in samples),
    }


def plain_httpuser(base: str, token: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    """locust's headless CLI with an ``HttpUser`` locustfile, read from its aggregated CSV row."""
    locustfile = work / "httpuser_locustfile.py"
    locustfile.write_text(HTTPUSER_LOCUSTFILE.format(path=PATH, token=token))
    argv = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
        "-u", str(args.connections), "-r", str(args.connections), "-t", f"{round(args.duration)}s",
        "-H", base, "--csv", str(work / "httpuser"), "--exit-code-on-error", "0",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 60, check=False)
    stats = work / "httpuser_stats.csv"
    if not stats.exists():
        raise SystemExit(f"locust failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    with stats.open() as table:
        row = next(r for r in csv.DictReader(table) if r["Name"] == "Aggregated")
    return {
        "requests": float(row["Request Count"]),
        "rate": float(row["Requests/s"]),
        "p95": float(row["95%"]),
        "non_2xx": float(row["Failure Count"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per generator (max 60)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections = locust users")
    parser.add_argument("--agents", type=int, default=50, help="agents registered before the run")
    parser.add_argument("--no-httpuser", action="store_true", help="skip the plain-locust HttpUser run")
    args = parser.parse_args()
    args.duration = float(min(max(round(args.duration), 2), 60))
    args.connections = min(max(args.connections, 1), 256)
    args.threads, args.python_client = 1, False  # what run_load reads

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="chaosgate-load-bench-") as tmp, seeded_api(args.agents) as api:
        base, token = api
        wrk = run_load(base, "GET", PATH, token, body=None, args=args)
        results[f"{wrk['tool']}, 1 thread"] = {
            "requests": wrk["requests"],
            "rate": wrk["requests"] / wrk["seconds"],
            "p95": wrk["p95"],
            "non_2xx": wrk["non_2xx"],
        }
        results["chaosgate load worker (FastHttpUser)"] = load_worker(base, token, args, Path(tmp) / "worker")
        if not args.no_httpuser:
            results["locust HttpUser (before)"] = plain_httpuser(base, token, args, Path(tmp))
    load = os.getloadavg()
    print(f"\nload average during the run (other work on the machine counts): {load[0]:.2f} {load[1]:.2f}")
    print(
        f"GET {PATH} on the PRISM reference API (one uvicorn worker), {os.cpu_count()} CPUs, "
        f"{args.connections} connections/users, {args.duration:g} s each, loopback\n"
    )
    print(f"{'generator':<40} {'requests':>9} {'req/s':>9} {'p95 ms':>9} {'non-2xx':>9}")
    for name, r in results.items():
        print(f"{name:<40} {r['requests']:>9.0f} {r['rate']:>9.0f} {r['p95']:>9.1f} {r['non_2xx']:>9.0f}")
    worker = results["chaosgate load worker (FastHttpUser)"]["rate"]
    print(f"\none load worker makes {worker / next(iter(results.values()))['rate']:.0%} of wrk's requests/s")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"(benchmark took {time.monotonic() - started:.0f} s)")
    raise SystemExit(code)
