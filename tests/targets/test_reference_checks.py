"""The library's database checks against a real PostgreSQL: they must fail when a write the API
accepted is missing, duplicated or unacknowledged, not only pass on a healthy run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest

from chaosgate.checks import CheckContext
from chaosgate.engine.samples import Sample
from targets.reference.checks import accepted_agents_persisted, idempotent_write_applied_once
from targets.services import PostgresServer

NAME = "partition-test-run"


@pytest.fixture(scope="module")
def dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with PostgresServer(tmp_path_factory.mktemp("pg-logs")) as server:
        asyncio.run(_execute(server.dsn, "CREATE TABLE agents (id uuid PRIMARY KEY, name text NOT NULL)"))
        yield server.dsn


async def _execute(dsn: str, statement: str, *args: object) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


def _store(dsn: str, *ids: str, name: str = NAME) -> None:
    for agent_id in ids:
        asyncio.run(_execute(dsn, "INSERT INTO agents (id, name) VALUES ($1, $2)", uuid.UUID(agent_id), name))


def _accepted(agent_id: str, status: int = 202) -> Sample:
    return Sample(
        source="expect.during[0]",
        request="POST /api/v1/agents",
        t=1.0,
        latency=0.01,
        status=status,
        ok=True,
        observed={"Location": f"/api/v1/agents/{agent_id}"},
    )


def _unanswered() -> Sample:
    return Sample(
        source="expect.during[0]", request="POST /api/v1/agents", t=1.0, latency=2.0, status=0, ok=False
    )


def _context(dsn: str, samples: list[Sample], depth: int = 0) -> CheckContext:
    queue = httpx.MockTransport(lambda request: httpx.Response(200, json={"depth": depth}))
    client = httpx.Client(base_url="http://api.test", transport=queue)
    return CheckContext(client=client, samples={"expect.during[0]": samples}, resources={"postgres_dsn": dsn})


def test_every_accepted_agent_in_the_database_passes(dsn: str) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    name = f"all-{uuid.uuid4().hex[:8]}"
    _store(dsn, *ids, name=name)
    samples = [_accepted(ids[0], 201), _accepted(ids[1]), _accepted(ids[2])]
    result = accepted_agents_persisted(_context(dsn, samples), "expect.during[0]", name, within="1s")
    assert result.passed, result.detail
    assert "3 accepted, 3 row(s)" in result.detail


def test_an_accepted_agent_missing_from_the_database_fails(dsn: str) -> None:
    kept, lost = str(uuid.uuid4()), str(uuid.uuid4())
    name = f"lost-{uuid.uuid4().hex[:8]}"
    _store(dsn, kept, name=name)
    result = accepted_agents_persisted(
        _context(dsn, [_accepted(kept), _accepted(lost)]), "expect.during[0]", name, within="1s"
    )
    assert not result.passed
    assert result.measured == 1
    assert "1 lost" in result.detail


def test_a_row_nobody_was_told_about_fails_unless_a_request_went_unanswered(dsn: str) -> None:
    acknowledged, extra = str(uuid.uuid4()), str(uuid.uuid4())
    name = f"extra-{uuid.uuid4().hex[:8]}"
    _store(dsn, acknowledged, extra, name=name)
    strict = accepted_agents_persisted(
        _context(dsn, [_accepted(acknowledged)]), "expect.during[0]", name, "1s"
    )
    assert not strict.passed
    lenient = accepted_agents_persisted(
        _context(dsn, [_accepted(acknowledged), _unanswered()]), "expect.during[0]", name, "1s"
    )
    assert lenient.passed, lenient.detail


def test_a_queue_that_never_drains_fails(dsn: str) -> None:
    agent_id = str(uuid.uuid4())
    _store(dsn, agent_id, name="never-drains")
    result = accepted_agents_persisted(
        _context(dsn, [_accepted(agent_id)], depth=4), "expect.during[0]", "never-drains", within="0.5s"
    )
    assert not result.passed
    assert result.measured == 4


def test_accepted_answers_without_location_are_reported(dsn: str) -> None:
    sample = Sample(
        source="expect.during[0]", request="POST /api/v1/agents", t=1.0, latency=0.01, status=202, ok=True
    )
    result = accepted_agents_persisted(_context(dsn, [sample]), "expect.during[0]", NAME, within="1s")
    assert not result.passed
    assert "no Location" in result.detail


def test_an_idempotent_write_stored_twice_fails(dsn: str) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    once = f"once-{uuid.uuid4().hex[:8]}"
    _store(dsn, first, name=once)
    replays = [_accepted(first, 201) for _ in range(3)]
    assert idempotent_write_applied_once(_context(dsn, replays), "expect.during[0]", once).passed
    twice = f"twice-{uuid.uuid4().hex[:8]}"
    _store(dsn, str(uuid.uuid4()), second, name=twice)
    result = idempotent_write_applied_once(
        _context(dsn, [_accepted(second, 201), _accepted(second, 201)]), "expect.during[0]", twice
    )
    assert not result.passed
    assert result.measured == 2


def test_retries_answered_with_different_agents_fail(dsn: str) -> None:
    one, other = str(uuid.uuid4()), str(uuid.uuid4())
    name = f"split-{uuid.uuid4().hex[:8]}"
    _store(dsn, one, name=name)
    result = idempotent_write_applied_once(
        _context(dsn, [_accepted(one, 201), _accepted(other, 201)]), "expect.during[0]", name
    )
    assert not result.passed
    assert "2 location(s)" in result.detail


def test_unknown_sample_source_is_an_error_of_the_scenario(dsn: str) -> None:
    with pytest.raises(LookupError, match=r"no samples from `expect.during\[9\]`"):
        accepted_agents_persisted(_context(dsn, []), "expect.during[9]", NAME)
