"""Pieces of the service that need no running stack: breaker states, PII rules, tokens, settings,
and the 500 envelope of an unhandled exception (in-process app, no lifespan)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from prism_stack import assert_envelope

from reference_impl.app import create_app
from reference_impl.breakers import BreakerOpen, BreakerState, CircuitBreaker
from reference_impl.passwords import hash_secret, verify_secret
from reference_impl.pii import scan
from reference_impl.settings import Settings, SettingsError
from reference_impl.tokens import TokenRejected, decode_access_token, issue_access_token

SECRET = "unit-test-signing-key-0123456789-abcdef"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_at_threshold_then_half_opens_and_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("db", failure_threshold=3, reset_seconds=2.0, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure("timed out")
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()
    breaker.record_failure("timed out")
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(BreakerOpen):
        breaker.before_call()
    assert breaker.snapshot().rejected_calls == 1
    clock.now += 2.0
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the single trial
    with pytest.raises(BreakerOpen):
        breaker.before_call()  # no second trial while the first is in flight
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().times_opened == 1


def test_failed_trial_reopens_immediately() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("redis", failure_threshold=5, reset_seconds=1.0, clock=clock)
    for _ in range(5):
        breaker.record_failure("refused")
    clock.now += 1.0
    breaker.before_call()
    breaker.record_failure("refused")
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail me at a.b+c@mail.example.org", "email"),
        ("card 5555-5555-5555-4444", "card_number"),
        ("ssn 078-05-1120", "national_id"),
        ("call (415) 555-0100", "phone"),
        ("call +44 207 555 0100", "phone"),
    ],
)
def test_pii_kinds(text: str, kind: str) -> None:
    assert [f.kind for f in scan({"field": text})] == [kind]


@pytest.mark.parametrize(
    "text", ["build 1234567890123", "4111 1111 1111 1112", "v1.2.3", "2026-11-22", "x@y"]
)
def test_not_pii(text: str) -> None:
    assert scan({"field": text}) == []


def test_pii_in_keys_is_found() -> None:
    assert [(f.field, f.kind) for f in scan({"jane@example.com": 1})] == [
        ("body.payload.jane@example.com", "email")
    ]


def test_access_tokens_verify_expire_and_reject_tampering() -> None:
    family = str(uuid.uuid4())
    token, claims = issue_access_token(SECRET, "operator", "operator", family, ttl=60)
    decoded = decode_access_token(SECRET, token)
    assert (decoded.subject, decoded.role, decoded.family_id) == ("operator", "operator", family)
    with pytest.raises(TokenRejected) as expired:
        decode_access_token(SECRET, token, now=claims.expires_at + 1)
    assert expired.value.code == "token_expired"
    head, body, signature = token.split(".")
    with pytest.raises(TokenRejected) as tampered:
        decode_access_token(SECRET, f"{head}.{body}x.{signature}")
    assert tampered.value.code == "token_invalid"


def test_secret_hashing() -> None:
    stored = hash_secret("s3cret-value", iterations=1000)
    assert verify_secret("s3cret-value", stored)
    assert not verify_secret("wrong", stored)
    assert not verify_secret("\ud800", stored)
    assert not verify_secret("x", "garbage")


def test_settings_from_env_validate() -> None:
    settings = Settings.from_env({"PRISM_DB_TIMEOUT_SECONDS": "0.25", "PRISM_ANONYMOUS_ROLE": "viewer"})
    assert settings.db_timeout == 0.25
    assert settings.anonymous_role == "viewer"
    with pytest.raises(SettingsError, match="PRISM_CHAOS_TOKEN"):
        Settings.from_env({"PRISM_CHAOS_ENABLED": "true"})
    with pytest.raises(SettingsError, match="not a number"):
        Settings.from_env({"PRISM_DB_TIMEOUT_SECONDS": "soon"})
    with pytest.raises(SettingsError, match="PRISM_ANONYMOUS_ROLE"):
        Settings.from_env({"PRISM_ANONYMOUS_ROLE": "root"})


def test_unhandled_exception_gets_the_500_envelope(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://prism") as client:
            return await client.get("/boom")

    response = asyncio.run(call())
    error = assert_envelope(response, 500, "internal")
    assert "kaboom" not in response.text, "internal details must not leak"
    assert error["recovery_options"]
