"""What a failed dependency call looks like to the rest of the service.

Both the PostgreSQL and the Redis layers translate their drivers' many
exception types into one :class:`DependencyUnavailable`, so routers choose a
fallback (cache, offline queue, 503 envelope) without knowing driver details.
"""

from __future__ import annotations

import asyncio
import errno

import asyncpg
import redis.exceptions

# SQLSTATE classes that mean "the server or the link is in trouble", not "your query is wrong":
# 08 connection exception, 53 insufficient resources, 57 operator intervention, 58 system error.
_INFRA_SQLSTATE_CLASSES = ("08", "53", "57", "58")


class DependencyUnavailable(Exception):
    """A dependency could not serve the call: down, timing out, or its breaker is open."""

    def __init__(self, dependency: str, reason: str, retry_after: float, *, timed_out: bool = False) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason
        self.retry_after = retry_after
        self.timed_out = timed_out


def is_postgres_infrastructure_error(exc: BaseException) -> bool:
    """True for failures of the server or the connection, False for errors in the query or data."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, OSError, ConnectionError, EOFError)):
        return True
    if isinstance(exc, asyncpg.InterfaceError):  # includes ConnectionDoesNotExistError
        return True
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        return sqlstate[:2] in _INFRA_SQLSTATE_CLASSES
    return False


def is_redis_infrastructure_error(exc: BaseException) -> bool:
    """True for Redis connection problems and timeouts; False for command errors (wrong type…)."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, OSError, ConnectionError, EOFError)):
        return True
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return True
    if isinstance(exc, redis.exceptions.ResponseError):
        # LOADING / MASTERDOWN / BUSY mean the server cannot serve yet: treat as unavailable.
        return str(exc).split(" ", 1)[0] in {"LOADING", "MASTERDOWN", "BUSY", "MISCONF"}
    return False


def describe(exc: BaseException) -> str:
    """A one-line reason for logs and the breaker's `last_failure`."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        return "connection refused"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
