"""Checks of the scenario library that verify, against PostgreSQL itself, what the reference API
claimed during a fault.

A 202 during a partition is a promise; only the database can say whether it was kept. Samples
keep no bodies, so the checks read what a request expectation watched: its `Location` header
(the scenario must watch it with `headers: {Location: present}`), one agent id per accepted write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx

from chaosgate.checks import CheckContext, CheckResult
from chaosgate.engine.samples import Sample
from chaosgate.scenario.quantities import parse_duration

ACCEPTED = (201, 202)
QUEUE_PATH = "/api/v1/system/queue"


def _samples(ctx: CheckContext, source: str) -> list[Sample]:
    found = ctx.samples.get(source)
    if found is None:
        known = ", ".join(sorted(ctx.samples)) or "none"
        raise LookupError(f"no samples from `{source}` (sources: {known})")
    return list(found)


def _location(sample: Sample) -> str | None:
    for name, value in (sample.observed or {}).items():
        if name.lower() == "location" and value:
            return value
    return None


def _accepted_ids(samples: Iterable[Sample]) -> tuple[set[str], int, int]:
    """Agent ids the API accepted (from Location), how many accepted answers had none, and how many
    requests got no answer (they may or may not have been applied)."""
    ids: set[str] = set()
    missing = unanswered = 0
    for sample in samples:
        if sample.status in ACCEPTED:
            location = _location(sample)
            if location is None:
                missing += 1
            else:
                ids.add(location.rstrip("/").rsplit("/", 1)[-1])
        elif sample.status == 0 or sample.status >= 500:
            unanswered += 1
    return ids, missing, unanswered


def _wait_for_empty_queue(client: httpx.Client, within: float) -> int | None:
    """Depth of the offline queue once it is empty, or the last depth seen when `within` ran out."""
    deadline = time.monotonic() + within
    depth: int | None = None
    while True:
        try:
            response = client.get(QUEUE_PATH, timeout=2.0)
            depth = int(response.json()["depth"]) if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            depth = None
        if depth == 0 or time.monotonic() >= deadline:
            return depth
        time.sleep(0.2)


async def _agent_ids_named(dsn: str, name: str) -> list[str]:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        query = "SELECT id::text AS id FROM agents WHERE name = $1"
        rows: Sequence[Any] = await connection.fetch(query, name)
    finally:
        await connection.close()
    return [str(row["id"]) for row in rows]


def accepted_agents_persisted(ctx: CheckContext, source: str, name: str, within: str = "15s") -> CheckResult:
    """Every agent the API accepted (201, or 202 into the offline queue) under `name` is in
    PostgreSQL once the queue has drained, and nothing else is: nothing lost, nothing duplicated.
    Extra rows are tolerated only up to the number of requests that got no answer."""
    ids, missing, unanswered = _accepted_ids(_samples(ctx, source))
    if missing:
        return CheckResult(False, missing, f"{missing} accepted answer(s) of {source} had no Location")
    if not ids:
        return CheckResult(False, 0, f"{source} has no accepted write to verify")
    depth = _wait_for_empty_queue(ctx.client, parse_duration(within))
    if depth != 0:
        return CheckResult(False, depth, f"offline queue still holds {depth} write(s) after {within}")
    rows = asyncio.run(_agent_ids_named(ctx.resources["postgres_dsn"], name))
    stored = set(rows)
    lost = ids - stored
    duplicated = len(rows) - len(stored)
    extra = stored - ids
    detail = (
        f"{len(ids)} accepted, {len(rows)} row(s) named {name}: {len(lost)} lost, "
        f"{duplicated} duplicated, {len(extra)} not acknowledged ({unanswered} unanswered request(s))"
    )
    passed = not lost and not duplicated and len(extra) <= unanswered
    return CheckResult(passed, len(lost), detail)


def idempotent_write_applied_once(ctx: CheckContext, source: str, name: str) -> CheckResult:
    """Every answered retry of one write with one Idempotency-Key pointed at the same agent, and
    PostgreSQL holds exactly one agent under `name`."""
    samples = _samples(ctx, source)
    locations = {_location(s) for s in samples if s.status in ACCEPTED}
    answered = sum(1 for s in samples if s.status in ACCEPTED)
    if answered < 2:
        return CheckResult(False, answered, f"{source}: {answered} accepted answer(s), nothing was retried")
    rows = asyncio.run(_agent_ids_named(ctx.resources["postgres_dsn"], name))
    detail = (
        f"{answered} accepted answer(s) naming {len(locations)} location(s); {len(rows)} row(s) named {name}"
    )
    only = next(iter(locations)) if len(locations) == 1 else None
    passed = len(rows) == 1 and only is not None and only.endswith(rows[0])
    return CheckResult(passed, len(rows), detail)
