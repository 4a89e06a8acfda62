"""Checks of the scenario library's container scenarios, verified against PostgreSQL itself.

The API's 201 or 202 is a promise; only the database can say whether it was
kept. These checks count what the run's samples say was accepted and look for
it in the ``agents`` table, through the DSN the target publishes.

On the docker runtime a container that was stopped, killed or restarted comes
back on a new host port (the engine picks one at each start), so the
published ``postgres_dsn`` may point at a port nobody listens on any more;
when the target names the PostgreSQL container, its current port is read from
the engine instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from chaosgate.checks import CheckContext, CheckResult
from chaosgate.scenario.quantities import parse_duration

POSTGRES_PORT = "5432/tcp"
ACCEPTED = frozenset({201, 202})
CONNECT_TIMEOUT = 3.0
POLL_PAUSE = 0.5


def current_postgres_dsn(resources: Mapping[str, str]) -> str:
    """The published DSN, with the port the PostgreSQL container listens on now (docker runtime)."""
    dsn = resources["postgres_dsn"]
    container = resources.get("container:postgres")
    if container is None:
        return dsn
    from injectors.docker.client import DockerEngine  # noqa: PLC0415 - the process runtime needs no engine

    with DockerEngine() as engine:
        bound = (engine.get(container).ports or {}).get(POSTGRES_PORT) or []
    if not bound:
        return dsn
    parts = urlsplit(dsn)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@" if credentials else ""
    return urlunsplit(parts._replace(netloc=f"{netloc}{parts.hostname}:{bound[0]['HostPort']}"))


async def _agents_named(dsn: str, name: str) -> int:
    import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415 - only scenarios using this check load it

    connection = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM agents WHERE name = $1", name))
    finally:
        await connection.close()


def _outcomes(samples: Iterable[Any]) -> tuple[int, int]:
    """(accepted: 201 or 202, unknown: no answer, so the write may or may not have happened)."""
    accepted = unknown = 0
    for sample in samples:
        if sample.status in ACCEPTED:
            accepted += 1
        elif sample.status == 0:
            unknown += 1
    return accepted, unknown


def accepted_agents_persisted(
    ctx: CheckContext, name: str, source: str = "expect.during[0]", within: str = "15s"
) -> CheckResult:
    """Every `POST /agents` of `source` answered 201 or 202 is a row named `name` in PostgreSQL.

    Passes when, within `within`, the table holds at least as many agents
    called `name` as were accepted, and no more than accepted plus the writes
    whose answer was lost (a queued write synced twice would show as a surplus).
    """
    accepted, unknown = _outcomes(ctx.samples.get(source) or [])
    if accepted == 0:
        return CheckResult(False, 0, f"no write of {source} was accepted: nothing to verify")
    if "postgres_dsn" not in ctx.resources:
        return CheckResult(False, None, "the target publishes no postgres_dsn to verify against")
    deadline = time.monotonic() + parse_duration(within)
    stored, problem = 0, ""
    while True:
        try:
            stored, problem = asyncio.run(_agents_named(current_postgres_dsn(ctx.resources), name)), ""
        except Exception as error:  # noqa: BLE001 - refused, timed out, asyncpg or engine errors: retry
            problem = f" (last attempt: {type(error).__name__}: {error})"
        if stored >= accepted or time.monotonic() >= deadline:
            break
        time.sleep(POLL_PAUSE)
    measured = f"{stored}/{accepted}"
    if stored < accepted:
        return CheckResult(
            False, measured,
            f"{accepted - stored} of {accepted} accepted agents named {name} missing from PostgreSQL "
            f"after {within}{problem}",
        )
    if stored > accepted + unknown:
        return CheckResult(
            False, measured,
            f"{stored} agents named {name} in PostgreSQL but only {accepted} accepted "
            f"(+{unknown} unanswered): duplicates",
        )
    detail = f"all {accepted} accepted agents named {name} are in PostgreSQL ({unknown} unanswered)"
    return CheckResult(True, measured, detail)
