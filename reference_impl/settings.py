"""Configuration of the PRISM service, read once from the environment.

Every knob is an environment variable with the ``PRISM_`` prefix so that the
same image runs as a local process (``targets/services.py``) and as a
container. Timeouts default to values that let a Toxiproxy ``timeout`` toxic
be detected well inside the 2 s detection SLA of the default profile.

Development credentials (client-credentials grant, seeded at start-up; change
them with the variables in brackets for anything but a test rig):

=========  ==================  ==============================
client_id  client_secret       role
=========  ==================  ==============================
viewer     viewer-dev-secret   viewer   (PRISM_VIEWER_SECRET)
operator   operator-dev-secret operator (PRISM_OPERATOR_SECRET)
admin      admin-dev-secret    admin    (PRISM_ADMIN_SECRET)
=========  ==================  ==============================
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Idle keep-alive connections stay open this long (uvicorn's default is 5 s). A client or proxy
# that reuses a pooled connection just as the server closes it gets a disconnect instead of an
# answer, and on a slow link the close reaches it late: the server must outlive the idle
# timeouts of the clients and proxies in front of it, not the other way round.
KEEP_ALIVE_SECONDS = 75

DEV_SECRET_KEY = "prism-dev-signing-key-change-me-0123456789"  # noqa: S105 - documented dev default
ROLES = ("viewer", "operator", "admin")


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default)


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be >= {minimum}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be >= {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true/false)")


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment, validated."""

    database_url: str = "postgresql://prism@127.0.0.1:5432/prism"
    redis_url: str = "redis://127.0.0.1:6379/0"
    data_dir: Path = Path(".prism-data")
    host: str = "127.0.0.1"
    port: int = 8000

    # Dependency timeouts: short, so a hanging dependency is detected in < 2 s.
    db_timeout: float = 0.8
    redis_timeout: float = 0.5
    db_pool_min: int = 1
    db_pool_max: int = 10
    startup_db_wait: float = 15.0

    # Circuit breakers: open after N consecutive failures, try again after reset seconds.
    breaker_failure_threshold: int = 3
    breaker_reset_seconds: float = 2.0

    # Background loops.
    sync_interval: float = 0.5
    probe_interval: float = 0.5
    metrics_interval: float = 1.0

    # Replay protection: timestamp window; whether nonce + timestamp are mandatory on mutations.
    replay_window: float = 300.0
    require_replay_headers: bool = False

    # Overload (R5.2): above these the event stream throttles.
    overload_cpu_percent: float = 90.0
    overload_memory_percent: float = 85.0

    # Emergency policies: start mode of every policy, and the networks whose callers are internal.
    emergency_policies: str = "default"
    trusted_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")

    # Authentication.
    secret_key: str = DEV_SECRET_KEY
    access_token_ttl: int = 900
    refresh_token_ttl: int = 86_400
    client_secrets: Mapping[str, str] = field(
        default_factory=lambda: {
            "viewer": "viewer-dev-secret",
            "operator": "operator-dev-secret",
            "admin": "admin-dev-secret",
        }
    )
    anonymous_role: str | None = None

    # Application-level fault hooks (R3.5): off unless explicitly enabled.
    chaos_enabled: bool = False
    chaos_token: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment) and check them."""
        env = os.environ if env is None else env
        anonymous = _text(env, "PRISM_ANONYMOUS_ROLE", "").strip() or None
        settings = cls(
            database_url=_text(env, "PRISM_DATABASE_URL", cls.database_url),
            redis_url=_text(env, "PRISM_REDIS_URL", cls.redis_url),
            data_dir=Path(_text(env, "PRISM_DATA_DIR", str(cls.data_dir))),
            host=_text(env, "PRISM_HOST", cls.host),
            port=_int(env, "PRISM_PORT", cls.port, minimum=1),
            db_timeout=_float(env, "PRISM_DB_TIMEOUT_SECONDS", cls.db_timeout, minimum=0.05),
            redis_timeout=_float(env, "PRISM_REDIS_TIMEOUT_SECONDS", cls.redis_timeout, minimum=0.05),
            db_pool_min=_int(env, "PRISM_DB_POOL_MIN", cls.db_pool_min),
            db_pool_max=_int(env, "PRISM_DB_POOL_MAX", cls.db_pool_max, minimum=1),
            startup_db_wait=_float(env, "PRISM_STARTUP_DB_WAIT_SECONDS", cls.startup_db_wait),
            breaker_failure_threshold=_int(
                env, "PRISM_BREAKER_FAILURE_THRESHOLD", cls.breaker_failure_threshold, minimum=1
            ),
            breaker_reset_seconds=_float(
                env, "PRISM_BREAKER_RESET_SECONDS", cls.breaker_reset_seconds, minimum=0.1
            ),
            sync_interval=_float(env, "PRISM_SYNC_INTERVAL_SECONDS", cls.sync_interval, minimum=0.05),
            probe_interval=_float(env, "PRISM_PROBE_INTERVAL_SECONDS", cls.probe_interval, minimum=0.05),
            metrics_interval=_float(env, "PRISM_METRICS_INTERVAL_SECONDS", cls.metrics_interval, minimum=0.1),
            secret_key=_text(env, "PRISM_SECRET_KEY", DEV_SECRET_KEY),
            access_token_ttl=_int(env, "PRISM_ACCESS_TOKEN_TTL_SECONDS", cls.access_token_ttl, minimum=1),
            refresh_token_ttl=_int(env, "PRISM_REFRESH_TOKEN_TTL_SECONDS", cls.refresh_token_ttl, minimum=1),
            client_secrets={
                role: _text(env, f"PRISM_{role.upper()}_SECRET", f"{role}-dev-secret") for role in ROLES
            },
            anonymous_role=anonymous,
            replay_window=_float(env, "PRISM_REPLAY_WINDOW_SECONDS", cls.replay_window, minimum=1.0),
            require_replay_headers=_bool(env, "PRISM_REQUIRE_REPLAY_HEADERS", False),
            overload_cpu_percent=_float(env, "PRISM_OVERLOAD_CPU_PERCENT", cls.overload_cpu_percent),
            overload_memory_percent=_float(env, "PRISM_OVERLOAD_MEMORY_PERCENT", cls.overload_memory_percent),
            emergency_policies=_text(env, "PRISM_EMERGENCY_POLICIES", cls.emergency_policies).strip(),
            trusted_networks=tuple(
                item.strip()
                for item in _text(env, "PRISM_TRUSTED_NETWORKS", ",".join(cls.trusted_networks)).split(",")
                if item.strip()
            ),
            chaos_enabled=_bool(env, "PRISM_CHAOS_ENABLED", False),
            chaos_token=_text(env, "PRISM_CHAOS_TOKEN", "").strip() or None,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse combinations that would make the service unsafe or unusable."""
        if self.anonymous_role is not None and self.anonymous_role not in ROLES:
            raise SettingsError(f"PRISM_ANONYMOUS_ROLE must be one of {', '.join(ROLES)}")
        if self.chaos_enabled and not self.chaos_token:
            raise SettingsError(
                "PRISM_CHAOS_ENABLED=true needs PRISM_CHAOS_TOKEN (the chaos endpoint's guard)"
            )
        if self.emergency_policies not in ("default", "auto", "on", "off"):
            raise SettingsError("PRISM_EMERGENCY_POLICIES must be default, auto, on or off")
        for network in self.trusted_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise SettingsError(f"PRISM_TRUSTED_NETWORKS: {network!r} is not a network") from None
        if len(self.secret_key) < 32:
            raise SettingsError("PRISM_SECRET_KEY must be at least 32 characters")
        if self.db_pool_min > self.db_pool_max:
            raise SettingsError("PRISM_DB_POOL_MIN must not exceed PRISM_DB_POOL_MAX")
        for role, secret in self.client_secrets.items():
            if len(secret) < 8:
                raise SettingsError(f"PRISM_{role.upper()}_SECRET must be at least 8 characters")
