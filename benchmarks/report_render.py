"""Rendering every report of a run of 1,000,000 samples: prints time and peak memory, asserts nothing.

Writes a journal as a long run would leave it (10 scenarios of 100,000
samples each: two probes at 10 Hz and load, one fault each), then times
`chaosgate report RUN_DIR` in its own process — reading the journal,
aggregating with pandas, and writing results.json, junit.xml, summary.md
and report.html — and reads that process's peak resident memory.

    .venv/bin/python benchmarks/report_render.py [--samples 1000000] [--scenarios 10]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from chaosgate.results import ExpectationResult, FaultTimeline, RunResult, ScenarioResult, Verdict

SOURCES = ("agents-list", "health", "load")


def _scenario(ident: str, seconds: float) -> ScenarioResult:
    gate = ExpectationResult(
        id="sla:latency p95",
        kind="sla",
        window="steady",
        name="latency p95",
        weight=1,
        critical=False,
        passed=True,
        measured="40ms",
        measured_value=0.04,
        threshold="p95 < 150ms",
    )
    fault = FaultTimeline(
        name="lag",
        injector="toxiproxy",
        description="latency 300ms on api",
        planned_at=seconds / 3,
        planned_for=seconds / 3,
        injected_at=seconds / 3,
        reverted_at=2 * seconds / 3,
        detect=0.4,
        recover=0.6,
    )
    windows = {"before": [(0.0, seconds / 3)], "during": [(seconds / 3, 2 * seconds / 3)]}
    windows["after"] = [(2 * seconds / 3, seconds)]
    return ScenarioResult(
        id=ident,
        title=f"benchmark scenario {ident}",
        category="network",
        weight=1,
        file=f"{ident}.yaml:1:1",
        status="passed",
        score=100,
        grade="A",
        duration=seconds,
        expectations=[gate],
        faults=[fault],
        windows=windows,
    )


def _write(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record) + "\n")


def write_journal(run_dir: Path, samples: int, scenarios: int) -> None:
    rnd = random.Random(7)  # noqa: S311 - made-up latencies, not secrets
    per_scenario = samples // scenarios
    seconds = 600.0
    results = []
    with (run_dir / "journal.jsonl").open("w", encoding="utf-8") as out:
        _write(out, {"event": "RunStarted", "run_id": "bench", "scenarios": [], "out_dir": str(run_dir)})
        for index in range(scenarios):
            ident = f"bench-{index}"
            footprint = {
                "scenario": ident,
                "requests": [["GET", "/api/v1/agents"]],
                "faults": {"lag": "network: latency"},
                "touches": [
                    {
                        "expectation": None,
                        "requests": [["GET", "/api/v1/agents"]],
                        "faults": ["network: latency"],
                    }
                ],
            }
            _write(
                out,
                {
                    "event": "ScenarioStarted",
                    "scenario_id": ident,
                    "title": ident,
                    "plan": [],
                    "footprint": footprint,
                },
            )
            for n in range(per_scenario):
                t = n * seconds / per_scenario
                slow = seconds / 3 <= t < 2 * seconds / 3
                sample = {
                    "source": SOURCES[n % 3],
                    "request": "GET /api/v1/agents",
                    "t": round(t, 4),
                    "latency": (0.3 if slow else 0.0) + rnd.random() * 0.04,
                    "status": 200 if n % 211 else 503,
                    "ok": True,
                    "error": None,
                    "detail": None,
                    "expected": False,
                    "observed": None,
                }
                _write(out, {"event": "SampleTaken", "scenario_id": ident, "sample": sample})
            result = _scenario(ident, seconds)
            results.append(result)
            _write(
                out,
                {
                    "event": "ScenarioFinished",
                    "scenario_id": ident,
                    "status": "passed",
                    "score": 100,
                    "result": result.model_dump(mode="json"),
                },
            )
        run = RunResult(
            run_id="bench",
            started_at="2026-01-01T00:00:00+00:00",
            finished_at="2026-01-01T01:40:00+00:00",
            duration=seconds * scenarios,
            sla_profile="default",
            min_score=90,
            score=100,
            grade="A",
            categories={"network": 100},
            verdict=Verdict(decision="go", exit_code=0, reasons=[]),
            scenarios=results,
        )
        _write(out, {"event": "RunFinished", "result": run.model_dump(mode="json", by_alias=True)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--scenarios", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chaosgate-bench-") as folder:
        run_dir = Path(folder)
        write_journal(run_dir, args.samples, args.scenarios)
        size = (run_dir / "journal.jsonl").stat().st_size
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "chaosgate", "report", str(run_dir)], check=True)
        elapsed = time.monotonic() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        html = (run_dir / "report.html").stat().st_size
    print(f"journal: {args.samples:,} samples in {args.scenarios} scenarios, {size / 1e6:.0f} MB")
    print(f"chaosgate report: {elapsed:.1f} s, peak memory {peak_kib / 1024:.0f} MiB")
    print(f"report.html: {html / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
