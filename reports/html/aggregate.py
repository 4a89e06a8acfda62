"""The journal's samples as per-second buckets per scenario and source, with pandas (R7.3).

Samples are read from the journal rather than kept from the run's events, so
a report rendered during the run and one rendered later from the journal
alone are the same report. Only the five columns the charts need are kept
while reading, which keeps a run of a million samples within a few hundred
megabytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

_SAMPLE_PREFIX = '{"event": "SampleTaken"'
BUCKETS = ["scenario", "source", "second"]


def read_samples(journal: Path) -> pd.DataFrame:
    """scenario, source, t (s), latency (s), error (bool): one row per sample in the journal."""
    scenario: list[str] = []
    source: list[str] = []
    t: list[float] = []
    latency: list[float] = []
    error: list[bool] = []
    loads = json.loads
    with journal.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith(_SAMPLE_PREFIX):
                continue
            try:
                record = loads(line)
            except ValueError:
                continue  # the last line of a killed run
            sample = record["sample"]
            status = sample["status"]
            scenario.append(record["scenario_id"])
            source.append(sample["source"])
            t.append(sample["t"])
            latency.append(sample["latency"])
            error.append(status == 0 or (status >= 500 and not sample.get("expected", False)))
    return pd.DataFrame(
        {
            "scenario": pd.Categorical(scenario),
            "source": pd.Categorical(source),
            "t": t,
            "latency": latency,
            "error": error,
        }
    )


def per_second(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario, source and second: requests, error rate, throughput, p50/p95/p99 (ms)."""
    if samples.empty:
        return pd.DataFrame(columns=[*BUCKETS, "requests", "error_rate", "throughput", "p50", "p95", "p99"])
    keyed = samples.assign(second=samples["t"].floordiv(1.0))
    groups = keyed.groupby(BUCKETS, observed=True, sort=True)
    counts = groups.agg(requests=("latency", "size"), errors=("error", "sum"))
    quantiles = groups["latency"].quantile([0.5, 0.95, 0.99]).unstack()
    quantiles.columns = ["p50", "p95", "p99"]
    frame = counts.join(quantiles * 1000.0).reset_index()
    frame["error_rate"] = frame["errors"] / frame["requests"] * 100.0
    frame["throughput"] = frame["requests"].astype(float)
    return frame.drop(columns=["errors"])
