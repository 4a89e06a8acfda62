"""The real PRISM stack for tests: PostgreSQL, Redis, Toxiproxy in front of both, and the API.

One stack per test session (start-up takes ~3 s). The API reaches PostgreSQL
and Redis only through the Toxiproxy proxies ``prism_postgres`` and
``prism_redis``, so a test injects a real fault by adding a toxic or
disabling a proxy. An autouse fixture resets Toxiproxy and waits for the API
to report healthy before and after every test, so a failing test cannot leak
its fault into the next one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest
from prism_stack import BREAKER_RESET, CHAOS_TOKEN, DB_TIMEOUT, POSTGRES_PROXY, REDIS_PROXY, PrismStack

from chaosgate.exceptions import ChaosgateError
from chaosgate.ports import LOOPBACK, free_port, wait_for_port
from chaosgate.processes import ManagedProcess
from injectors.toxiproxy.client import ToxiproxyClient
from targets.services import PostgresServer, RedisServer, api_environment, api_process


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismStack]:
    logs = tmp_path_factory.mktemp("prism-logs")
    with contextlib.ExitStack() as stack:
        try:
            postgres = stack.enter_context(PostgresServer(logs))
            redis = stack.enter_context(RedisServer(logs))
            toxi_port = free_port()
            stack.enter_context(
                ManagedProcess(
                    "toxiproxy-server",
                    ["toxiproxy-server", "-host", LOOPBACK, "-port", str(toxi_port)],
                    port=toxi_port,
                    log_dir=logs,
                    startup_timeout=15,
                )
            )
        except ChaosgateError as error:
            pytest.fail(f"the reference stack did not start: {error.render()}", pytrace=False)
        toxiproxy = stack.enter_context(ToxiproxyClient(f"http://{LOOPBACK}:{toxi_port}"))
        pg_port, redis_port = free_port(), free_port()
        toxiproxy.create_proxy(POSTGRES_PROXY, f"{LOOPBACK}:{postgres.port}", f"{LOOPBACK}:{pg_port}")
        toxiproxy.create_proxy(REDIS_PROXY, f"{LOOPBACK}:{redis.port}", f"{LOOPBACK}:{redis_port}")
        assert wait_for_port(LOOPBACK, pg_port, 5)
        assert wait_for_port(LOOPBACK, redis_port, 5)
        data_dir = logs / "api-data"
        env = api_environment(
            f"postgresql://{postgres.user}@{LOOPBACK}:{pg_port}/{postgres.database}",
            f"redis://{LOOPBACK}:{redis_port}/0",
            data_dir,
            extra={
                "PRISM_DB_TIMEOUT_SECONDS": str(DB_TIMEOUT),
                "PRISM_REDIS_TIMEOUT_SECONDS": "0.3",
                "PRISM_BREAKER_RESET_SECONDS": str(BREAKER_RESET),
                "PRISM_PROBE_INTERVAL_SECONDS": "0.2",
                "PRISM_SYNC_INTERVAL_SECONDS": "0.2",
                "PRISM_METRICS_INTERVAL_SECONDS": "0.5",
                # policies start off (tests of other faults must not be locked down); only
                # 127.0.0.1 is internal, so a client bound to 127.0.0.2 is "external"
                "PRISM_EMERGENCY_POLICIES": "off",
                "PRISM_TRUSTED_NETWORKS": "127.0.0.1/32",
                "PRISM_STARTUP_DB_WAIT_SECONDS": "2",
                "PRISM_CHAOS_ENABLED": "true",
                "PRISM_CHAOS_TOKEN": CHAOS_TOKEN,
            },
        )
        api = api_process(logs, env)
        try:
            stack.enter_context(api)
        except ChaosgateError as error:
            pytest.fail(f"the API did not start: {error.render()}", pytrace=False)
        yield PrismStack(
            base_url=f"http://{api.address}",
            database_url=postgres.dsn,
            toxiproxy=toxiproxy,
            api=api,
            data_dir=data_dir,
        )


@pytest.fixture(autouse=True)
def _no_leftover_faults(prism: PrismStack) -> Iterator[None]:
    """Every test starts and ends with no toxic, no internal fault, every proxy enabled and a healthy API."""
    prism.toxiproxy.reset()
    if prism.api.running():
        prism.revert_internal_faults()
        prism.wait_healthy()
        prism.reset_controls()
    yield
    prism.toxiproxy.reset()
    if prism.api.running():
        prism.revert_internal_faults()
        prism.wait_healthy()
        prism.reset_controls()


@pytest.fixture
def api(prism: PrismStack) -> Iterator[httpx.Client]:
    with prism.client() as client:
        yield client
