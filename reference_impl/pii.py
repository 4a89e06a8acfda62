"""PII detection on task payloads: e-mail addresses, phone numbers, national ids, card numbers.

Why block rather than mask: a task payload is forwarded to agents and kept in
the event log and the database; once PII is in, it is everywhere. The API
refuses it up front (422, per-field findings, counted in ``/metrics``) and
tells the client which field to scrub. Card numbers are confirmed with the
Luhn checksum so ordinary long numbers (ids, timestamps) are not flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)|\d{3})[\s.-]\d{3}[\s.-]\d{4}(?!\d)")
_NATIONAL_ID = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")  # US SSN shape
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


@dataclass(frozen=True)
class PiiFinding:
    """One kind of PII in one field (the value itself is never echoed back)."""

    field: str
    kind: str


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _kinds(text: str) -> Iterator[str]:
    if _EMAIL.search(text):
        yield "email"
    if _NATIONAL_ID.search(text):
        yield "national_id"
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            yield "card_number"
            break
    if _PHONE.search(text):
        yield "phone"


def scan(payload: Mapping[str, Any], prefix: str = "body.payload") -> list[PiiFinding]:
    """Every (field, kind) of PII in the payload's keys and string values."""
    findings: list[PiiFinding] = []
    for key, value in payload.items():
        field = f"{prefix}.{key}"
        texts = [key] + ([value] if isinstance(value, str) else [])
        kinds = {kind for text in texts for kind in _kinds(text)}
        findings += [PiiFinding(field, kind) for kind in sorted(kinds)]
    return findings
