"""Emergency policies: stricter behaviour that switches on during an outage and off on recovery.

Three policies, each with a mode: ``auto`` (active while its trigger holds:
the PostgreSQL or Redis circuit breaker is open, or either), ``on`` or
``off`` (forced by an admin through ``PUT /api/v1/policies/{id}``):

* ``lockdown-external-access``: callers outside ``PRISM_TRUSTED_NETWORKS``
  (default loopback) get 403 ``lockdown_active`` on every authenticated route;
* ``require-reauth``: access tokens issued before the policy activated may no
  longer mutate (401 ``reauthentication_required``) and refresh-token grants are
  refused, so a token stolen before the incident stops working for changes;
* ``disable-export``: bulk reads (``GET /api/v1/audit``, lists with
  ``limit`` > 100) get 403 ``export_disabled``.

The background prober evaluates the triggers every probe interval, so a
policy activates within ``breaker_reset + probe_interval`` of the outage being
detected and reverts as soon as the breaker closes again. Modes are kept per
process. By default lockdown and export are ``auto`` and re-auth is ``off``
(see :data:`DEFAULT_MODES`); ``PRISM_EMERGENCY_POLICIES=auto|on|off`` sets all three.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from reference_impl.breakers import BreakerState, CircuitBreaker

EXPORT_LIMIT = 100


class PolicyId(StrEnum):
    LOCKDOWN_EXTERNAL_ACCESS = "lockdown-external-access"
    REQUIRE_REAUTH = "require-reauth"
    DISABLE_EXPORT = "disable-export"


class Trigger(StrEnum):
    DATABASE_OUTAGE = "database_outage"
    REDIS_OUTAGE = "redis_outage"
    ANY_DEPENDENCY_OUTAGE = "any_dependency_outage"


class Mode(StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"


EFFECTS = {
    PolicyId.LOCKDOWN_EXTERNAL_ACCESS: "callers outside the trusted networks get 403 `lockdown_active`",
    PolicyId.REQUIRE_REAUTH: "tokens issued before activation may not mutate (401); refresh grants refused",
    PolicyId.DISABLE_EXPORT: "GET /audit and lists with limit > 100 get 403 `export_disabled`",
}


# require-reauth is opt-in: in `auto` it would turn the partition-tolerant writes of R9 row 1
# (202, queued durably) into 401s for every token issued before the outage.
DEFAULT_MODES = {
    PolicyId.LOCKDOWN_EXTERNAL_ACCESS: Mode.AUTO,
    PolicyId.REQUIRE_REAUTH: Mode.OFF,
    PolicyId.DISABLE_EXPORT: Mode.AUTO,
}


@dataclass
class Policy:
    id: PolicyId
    mode: Mode
    trigger: Trigger
    active: bool = False
    activated_at: float | None = None  # wall clock
    reason: str | None = None
    activations: int = 0


class Policies:
    """Every policy of this process and the networks counted as internal."""

    def __init__(self, mode: Mode | None, trusted_networks: list[str]) -> None:
        """``mode`` sets every policy; None gives each its default (:data:`DEFAULT_MODES`)."""
        self.items = {
            pid: Policy(pid, DEFAULT_MODES[pid] if mode is None else mode, Trigger.DATABASE_OUTAGE)
            for pid in PolicyId
        }
        self.trusted = [ipaddress.ip_network(net, strict=False) for net in trusted_networks]

    def active(self, pid: PolicyId) -> Policy | None:
        policy = self.items[pid]
        return policy if policy.active else None

    def evaluate(self, db: CircuitBreaker, redis: CircuitBreaker) -> list[Policy]:
        """Recompute every policy; returns those whose ``active`` changed."""
        # Half-open is the outage being probed, not its end: treating it as recovered would lift the
        # lockdown for the length of every failed trial while the dependency is still down.
        outage = {
            Trigger.DATABASE_OUTAGE: db.state is not BreakerState.CLOSED,
            Trigger.REDIS_OUTAGE: redis.state is not BreakerState.CLOSED,
        }
        outage[Trigger.ANY_DEPENDENCY_OUTAGE] = any(outage.values())
        changed = []
        for policy in self.items.values():
            if policy.mode is Mode.AUTO:
                wanted, reason = outage[policy.trigger], f"auto: {policy.trigger.value}"
            else:
                wanted, reason = policy.mode is Mode.ON, f"forced {policy.mode.value} by an admin"
            if wanted != policy.active:
                policy.active = wanted
                policy.reason = reason if wanted else None
                policy.activated_at = time.time() if wanted else None
                policy.activations += int(wanted)
                changed.append(policy)
        return changed

    def is_external(self, host: str | None) -> bool:
        if host is None:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return True
        return not any(address in network for network in self.trusted)


def activated_at(policy: Policy) -> datetime | None:
    return None if policy.activated_at is None else datetime.fromtimestamp(policy.activated_at, UTC)
