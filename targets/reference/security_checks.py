"""Security checks of the reference that a single sampled request cannot express.

Each one is a short conversation with the API (and, for tampering, its
database): a nonce sent twice, a PII counter read before and after, an audit
row altered behind the API's back and then put back, a kill switch engaged
and always disengaged again.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import asyncpg  # type: ignore[import-untyped]
import httpx

from chaosgate.checks import CheckContext, CheckResult
from chaosgate.scenario.quantities import parse_duration

AGENTS = "/api/v1/agents"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def replay_protection(ctx: CheckContext, token: str) -> CheckResult:
    """A fresh nonce is accepted; the same nonce again is 409 `replay_detected` (nothing created);
    a timestamp an hour old is 403 `request_expired`."""
    nonce = f"replay-{secrets.token_hex(12)}"
    headers = {**_bearer(token), "X-Request-Nonce": nonce, "X-Request-Timestamp": str(int(time.time()))}
    body = {"name": "replay-probe"}
    first = ctx.client.post(AGENTS, json=body, headers=headers)
    again = ctx.client.post(AGENTS, json=body, headers=headers)
    stale = {**headers, "X-Request-Nonce": f"expired-{secrets.token_hex(12)}"}
    stale["X-Request-Timestamp"] = str(int(time.time()) - 3600)
    expired = ctx.client.post(AGENTS, json=body, headers=stale)
    seen = f"first {first.status_code}, replay {again.status_code} {_code(again)}, "
    seen += f"old timestamp {expired.status_code} {_code(expired)}"
    passed = (
        first.status_code == 201
        and (again.status_code, _code(again)) == (409, "replay_detected")
        and (expired.status_code, _code(expired)) == (403, "request_expired")
    )
    return CheckResult(passed, seen, seen)


def _pii_blocked_total(ctx: CheckContext) -> float:
    total = 0.0
    for line in ctx.client.get("/metrics").text.splitlines():
        if line.startswith("prism_events_total{") and 'event="pii_blocked"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def pii_blocks_are_counted(ctx: CheckContext, token: str) -> CheckResult:
    """One e-mail address in a task payload is refused (422) and adds exactly one to the PII
    counter of `/metrics`."""
    before = _pii_blocked_total(ctx)
    task = {"type": "inventory", "payload": {"owner": "someone@example.org"}}
    refused = ctx.client.post("/api/v1/tasks", json=task, headers=_bearer(token))
    added = _pii_blocked_total(ctx) - before
    seen = f"{refused.status_code} {_code(refused)}, counter +{added:g}"
    return CheckResult(
        refused.status_code == 422 and _code(refused) == "pii_detected" and added == 1, seen, seen
    )


async def _tamper(dsn: str, change: bool, seq: int | None, actor: str | None) -> tuple[int, str]:
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        if seq is None:
            row = await connection.fetchrow("SELECT seq, actor FROM audit_log ORDER BY seq DESC LIMIT 1")
            if row is None:
                raise LookupError("the audit log is empty")
            seq, actor = int(row["seq"]), str(row["actor"])
        new = f"{actor}-tampered" if change else actor
        await connection.execute("UPDATE audit_log SET actor = $1 WHERE seq = $2", new, seq)
        return seq, str(actor)
    finally:
        await connection.close()


def _verify(ctx: CheckContext, token: str) -> dict[str, object]:
    response = ctx.client.get("/api/v1/audit/verify", headers=_bearer(token))
    body = response.json()
    return body if isinstance(body, dict) else {}


def audit_tampering_detected(ctx: CheckContext, admin_token: str) -> CheckResult:
    """An audit row altered in PostgreSQL is reported `modified` by /audit/verify; the row is put
    back afterwards (and the chain verifies again), whatever the outcome."""
    dsn = ctx.resources.get("postgres_dsn")
    if not dsn:
        return CheckResult(False, None, "the target publishes no postgres_dsn")
    seq, actor = asyncio.run(_tamper(dsn, True, None, None))
    try:
        report = _verify(ctx, admin_token)
    finally:
        asyncio.run(_tamper(dsn, False, seq, actor))
    problems = report.get("problems")
    problems = problems if isinstance(problems, list) else []
    flagged = [
        p for p in problems if isinstance(p, dict) and p.get("seq") == seq and p.get("kind") == "modified"
    ]
    healed = _verify(ctx, admin_token).get("valid") is True
    seen = f"seq {seq}: valid={report.get('valid')}, flagged={bool(flagged)}; restored valid={healed}"
    return CheckResult(report.get("valid") is False and bool(flagged) and healed, seen, seen)


def kill_switch_effective(
    ctx: CheckContext, admin_token: str, operator_token: str, within: str = "5s"
) -> CheckResult:
    """Engaged by an admin, the kill switch refuses a non-admin mutation with 503
    `kill_switch_engaged` within `within`, while reads keep working; it is disengaged at the end."""
    limit = parse_duration(within)
    switch = "/api/v1/system/kill-switch"
    engaged = ctx.client.post(
        switch, json={"engaged": True, "reason": "resilience check"}, headers=_bearer(admin_token)
    )
    started = time.monotonic()
    try:
        if engaged.status_code != 200:
            return CheckResult(False, None, f"engaging answered {engaged.status_code} {_code(engaged)}")
        refused_after: float | None = None
        while time.monotonic() - started < limit + 5:
            write = ctx.client.post(
                AGENTS, json={"name": "during-kill-switch"}, headers=_bearer(operator_token)
            )
            if write.status_code == 503 and _code(write) == "kill_switch_engaged":
                refused_after = time.monotonic() - started
                break
            time.sleep(0.1)
        read = ctx.client.get(AGENTS, headers=_bearer(operator_token)).status_code
    finally:
        ctx.client.post(switch, json={"engaged": False}, headers=_bearer(admin_token))
    after = ctx.client.post(
        AGENTS, json={"name": "after-kill-switch"}, headers=_bearer(operator_token)
    ).status_code
    seen = (
        f"refused after {refused_after if refused_after is None else round(refused_after, 3)}s, read {read}, "
    )
    seen += f"write after disengaging {after}"
    passed = refused_after is not None and refused_after <= limit and read == 200 and after == 201
    return CheckResult(passed, seen, seen)
