"""Schema migrations and seed data, applied at start-up.

Why in code rather than SQL files: the package then works from a wheel or an
image without package-data rules, and the ordered list below *is* the
migration history. Each migration runs once, in its own transaction, under a
PostgreSQL advisory lock so several workers starting together do not race.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from reference_impl.passwords import hash_secret
from reference_impl.settings import Settings

log = logging.getLogger("prism.migrations")

_LOCK_KEY = 727_274_001  # arbitrary, fixed: "PRISM migrations"

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "clients, agents and refresh-token families",
        """
        CREATE TABLE clients (
            client_id   text PRIMARY KEY,
            role        text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            secret_hash text NOT NULL,
            disabled    boolean NOT NULL DEFAULT false,
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE agents (
            id                uuid PRIMARY KEY,
            name              text NOT NULL,
            capabilities      text[] NOT NULL DEFAULT '{}',
            version           text,
            status            text NOT NULL DEFAULT 'registered',
            config            jsonb NOT NULL,
            config_version    integer NOT NULL DEFAULT 1,
            heartbeat         jsonb,
            last_heartbeat_at timestamptz,
            created_at        timestamptz NOT NULL,
            updated_at        timestamptz NOT NULL,
            created_via       text NOT NULL DEFAULT 'api'
        );
        CREATE INDEX agents_created_at_idx ON agents (created_at, id);
        CREATE TABLE token_families (
            id            uuid PRIMARY KEY,
            client_id     text NOT NULL REFERENCES clients (client_id),
            created_at    timestamptz NOT NULL DEFAULT now(),
            revoked_at    timestamptz,
            revoke_reason text
        );
        CREATE INDEX token_families_revoked_idx ON token_families (revoked_at) WHERE revoked_at IS NOT NULL;
        CREATE TABLE refresh_tokens (
            token_hash text PRIMARY KEY,
            family_id  uuid NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
            issued_at  timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            rotated_at timestamptz
        );
        CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
        """,
    ),
    (
        2,
        "tasks with capability matching and progress",
        """
        CREATE TABLE tasks (
            id                    uuid PRIMARY KEY,
            type                  text NOT NULL,
            payload               jsonb NOT NULL,
            required_capabilities text[] NOT NULL DEFAULT '{}',
            priority              integer NOT NULL,
            status                text NOT NULL,
            agent_id              uuid REFERENCES agents (id) ON DELETE SET NULL,
            steps_total           integer NOT NULL,
            steps_done            integer NOT NULL DEFAULT 0,
            progress_percent      double precision,
            progress_updated_at   timestamptz,
            created_at            timestamptz NOT NULL,
            updated_at            timestamptz NOT NULL,
            finished_at           timestamptz
        );
        CREATE INDEX tasks_status_idx ON tasks (status, priority, created_at);
        CREATE INDEX tasks_agent_idx ON tasks (agent_id) WHERE agent_id IS NOT NULL;
        """,
    ),
    (
        3,
        "configuration changes waiting for a busy agent",
        """
        ALTER TABLE agents ADD COLUMN pending_config jsonb, ADD COLUMN pending_config_at timestamptz;
        CREATE INDEX agents_pending_config_idx ON agents (pending_config_at) WHERE pending_config IS NOT NULL;
        """,
    ),
    (
        4,
        "kill switch and the hash-chained audit trail",
        """
        CREATE TABLE kill_switch (
            id         integer PRIMARY KEY CHECK (id = 1),
            engaged    boolean NOT NULL,
            reason     text,
            changed_by text,
            changed_at timestamptz NOT NULL
        );
        CREATE TABLE audit_log (
            seq         bigint PRIMARY KEY,
            occurred_at text NOT NULL,
            actor       text NOT NULL,
            role        text,
            method      text NOT NULL,
            path        text NOT NULL,
            status      integer NOT NULL,
            prev_hash   text NOT NULL,
            hash        text NOT NULL
        );
        """,
    ),
    (
        5,
        "offline sync: replicated records with vector clocks, applied operation ids",
        """
        CREATE TABLE sync_records (
            key          text PRIMARY KEY,
            value        text,  -- JSON, ASCII-escaped: jsonb cannot hold NUL or lone surrogates
            deleted      boolean NOT NULL DEFAULT false,
            vector_clock jsonb NOT NULL,
            written_at   double precision NOT NULL,
            origin       text NOT NULL,
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE sync_operations (
            op_id      text PRIMARY KEY,
            client_id  text NOT NULL,
            outcome    text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    (
        6,
        "notify listeners of agent changes (invalidates in-process list snapshots)",
        """
        CREATE FUNCTION prism_agents_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('prism_agents', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER agents_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agents
            FOR EACH STATEMENT EXECUTE FUNCTION prism_agents_changed();
        """,
    ),
]


async def _apply(connection: asyncpg.Connection, settings: Settings) -> list[int]:
    await connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    applied = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
    done: list[int] = []
    for version, name, sql in MIGRATIONS:
        if version in applied:
            continue
        async with connection.transaction():
            await connection.execute(sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
            )
        done.append(version)
        log.info("applied migration %d: %s", version, name)
    await _seed_clients(connection, settings)
    return done


async def _seed_clients(connection: asyncpg.Connection, settings: Settings) -> None:
    """Make the configured dev clients exist with their current secrets (one per role)."""
    rows = []
    for role, secret in settings.client_secrets.items():
        rows.append((role, role, await asyncio.to_thread(hash_secret, secret)))
    await connection.executemany(
        "INSERT INTO clients (client_id, role, secret_hash) VALUES ($1, $2, $3)"
        " ON CONFLICT (client_id) DO UPDATE SET role = EXCLUDED.role, secret_hash = EXCLUDED.secret_hash",
        rows,
    )


async def migrate(settings: Settings, *, wait: float | None = None) -> list[int]:
    """Apply pending migrations, retrying the connection for up to ``wait`` seconds.

    Returns the versions applied now. Raises the last connection error when the
    database stays unreachable, so the caller decides to start degraded.
    """
    budget = settings.startup_db_wait if wait is None else wait
    deadline = time.monotonic() + budget
    attempt = 0
    while True:
        attempt += 1
        try:
            connection = await asyncpg.connect(settings.database_url, timeout=max(settings.db_timeout, 2.0))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            if time.monotonic() + 0.5 >= deadline:
                raise
            log.info("database not reachable yet (attempt %d): %s", attempt, exc)
            await asyncio.sleep(0.5)
            continue
        try:
            async with asyncio.timeout(max(30.0, budget)):
                await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
                try:
                    return await _apply(connection, settings)
                finally:
                    await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        finally:
            connection.terminate()
