"""Benchmark the PRISM reference API: GET /api/v1/agents and POST /api/v1/tasks under a fixed load.

Not a test: run it by hand (about 40 s)::

    .venv/bin/python benchmarks/reference_api.py [--duration 10] [--connections 16] [--agents 50]

It starts PostgreSQL, Redis and the API (one uvicorn worker; uvloop and
httptools are picked up automatically) on free loopback ports with the
launchers of ``targets/services.py``, registers ``--agents`` agents, then
drives each endpoint for ``--duration`` seconds with ``--connections``
keep-alive connections from a separate process: ``wrk`` (Debian package
``wrk``) when installed, else a small asyncio HTTP/1.1 client in a
subprocess. Everything is loopback-only and bounded in time. It prints
requests/s and the p50/p95/p99 latency of each endpoint, and the non-2xx
count (which must be 0 for the figures to mean anything).

Target (issue 3): >= 1,000 requests/s on GET /api/v1/agents with p95 < 25 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from targets.services import PostgresServer, RedisServer, api_environment, api_process  # noqa: E402

TASK_BODY = {"type": "scan", "payload": {"target": "bench"}, "priority": 3, "steps_total": 10}

# wrk reports p50/p90/p99 by itself; this script makes it print the percentiles we want as JSON.
WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
               + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %f, "non_2xx": %d, "p50": %f, "p95": %f, "p99": %f}\\n',
    summary.requests, summary.duration / 1e6, errors,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""

# Fallback load generator: N keep-alive connections, each sending requests back to back.
PY_CLIENT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    host, port, method, path, token, body, connections, duration = sys.argv[1:9]
    port, connections, duration = int(port), int(connections), float(duration)
    payload = body.encode()
    head = (f"{method} {path} HTTP/1.1\\r\\nHost: {host}:{port}\\r\\nAuthorization: Bearer {token}\\r\\n"
            + (f"Content-Type: application/json\\r\\nContent-Length: {len(payload)}\\r\\n" if payload else "")
            + "\\r\\n").encode() + payload
    latencies, bad = [], 0
    async def worker(stop):
        global bad
        reader, writer = await asyncio.open_connection(host, port)
        while time.monotonic() < stop:
            started = time.perf_counter()
            writer.write(head)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\\r\\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            bad += not 200 <= status < 300
        writer.close()
    async def main():
        started = time.monotonic()
        await asyncio.gather(*(worker(started + duration) for _ in range(connections)))
        elapsed = time.monotonic() - started
        ordered = sorted(latencies)
        pick = lambda f: ordered[min(len(ordered) - 1, int(f * len(ordered)))] * 1000
        print("RESULT " + json.dumps({"requests": len(ordered), "seconds": elapsed, "non_2xx": bad,
                                      "p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99)}))
    asyncio.run(main())
    """
)


def run_load(
    base: str, method: str, path: str, token: str, *, body: dict[str, Any] | None, args: argparse.Namespace
) -> dict[str, Any]:
    """Drive one endpoint from a separate process; returns the parsed RESULT line."""
    payload = json.dumps(body) if body is not None else ""
    wrk = shutil.which("wrk")
    if wrk is not None and not args.python_client:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            if body is not None:
                script.write(f"wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(payload)}\n")
                script.write('wrk.headers["Content-Type"] = "application/json"\n')
            script.write(WRK_REPORT)
        argv = [
            wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{round(args.duration)}s",
            "--timeout", "5s", "-H", f"Authorization: Bearer {token}", "-s", script.name, base + path,
        ]  # fmt: skip
        tool = "wrk"
    else:
        host, port = base.removeprefix("http://").split(":")
        argv = [
            sys.executable, "-c", PY_CLIENT, host, port, method, path, token, payload,
            str(args.connections), str(args.duration),
        ]  # fmt: skip
        tool = "asyncio client"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 60, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"the load generator failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["tool"] = tool
    return result


@contextlib.contextmanager
def seeded_api(agents: int) -> Iterator[tuple[str, str]]:
    """PostgreSQL, Redis and the API on free loopback ports, `agents` agents registered and the
    API warmed up; yields its base URL and an operator token, and stops everything after."""
    logs = Path(tempfile.mkdtemp(prefix="prism-bench-"))
    try:
        with contextlib.ExitStack() as stack:
            postgres = stack.enter_context(PostgresServer(logs))
            redis = stack.enter_context(RedisServer(logs))
            env = api_environment(
                postgres.dsn, redis.url, logs / "data", extra={"PRISM_EMERGENCY_POLICIES": "off"}
            )
            api = stack.enter_context(api_process(logs, env))
            base = f"http://{api.address}"
            with httpx.Client(base_url=base, timeout=10, trust_env=False) as client:
                token = client.post(
                    "/api/v1/auth/token",
                    json={"client_id": "operator", "client_secret": "operator-dev-secret"},
                ).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                for index in range(agents):
                    created = client.post(
                        "/api/v1/agents",
                        json={"name": f"bench-{index}", "capabilities": ["scan"]},
                        headers=headers,
                    )
                    created.raise_for_status()
                for _ in range(200):  # warm-up: connection pool, caches, code paths
                    client.get("/api/v1/agents", headers=headers).raise_for_status()
            yield base, token
    finally:
        shutil.rmtree(logs, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint (max 60)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--agents", type=int, default=50, help="agents registered before the run")
    parser.add_argument(
        "--python-client", action="store_true", help="use the asyncio client even if wrk exists"
    )
    args = parser.parse_args()
    args.duration = float(min(max(round(args.duration), 1), 60))
    args.connections = min(max(args.connections, 1), 256)

    with seeded_api(args.agents) as (base, token):
        results = {
            "GET /api/v1/agents": run_load(base, "GET", "/api/v1/agents", token, body=None, args=args),
            "POST /api/v1/tasks": run_load(base, "POST", "/api/v1/tasks", token, body=TASK_BODY, args=args),
        }
    load = os.getloadavg()
    print(f"\nload average during the run (other work on the machine counts): {load[0]:.2f} {load[1]:.2f}")
    print(
        f"PRISM reference API, one uvicorn worker, {os.cpu_count()} CPUs, {args.connections} connections, "
        f"{args.duration:g} s per endpoint, {args.agents} agents ({results['GET /api/v1/agents']['tool']})\n"
    )
    columns = ("requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx")
    print(f"{'endpoint':<22} " + " ".join(f"{c:>9}" for c in columns))
    for name, r in results.items():
        rate = r["requests"] / r["seconds"]
        print(
            f"{name:<22} {r['requests']:>9} {rate:>9.0f} {r['p50']:>9.2f} {r['p95']:>9.2f} {r['p99']:>9.2f}"
            f" {r['non_2xx']:>9}"
        )
    get = results["GET /api/v1/agents"]
    met = get["requests"] / get["seconds"] >= 1000 and get["p95"] < 25 and get["non_2xx"] == 0
    print(f"\ntarget (GET /agents >= 1000 req/s, p95 < 25 ms): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"(benchmark took {time.monotonic() - started:.0f} s)")
    raise SystemExit(code)
