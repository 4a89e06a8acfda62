"""What one observation of the system under test is.

Probes, the load generator and WebSocket streams all reduce to samples with a
monotonic timestamp on the scenario's clock, so one evaluation serves them
all. A sample that failed its check keeps a bounded excerpt of the request
and response for the report, with credentials redacted.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

EXCERPT_BYTES = 2048
SECRET_HEADERS = frozenset(
    {"authorization", "cookie", "set-cookie", "x-api-key", "x-chaos-token", "proxy-authorization"}
)
_TOKEN_RE = re.compile(r'("[A-Za-z_-]*(?:token|password|secret)"\s*:\s*)"[^"]*"', re.IGNORECASE)
_BEARER_RE = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


MIN_SECRET_LENGTH = 6


def sent_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credentials a request carried (secret header values, and the token after `Bearer`), so a
    response that echoes one back has it hidden too, whatever field it is echoed in."""
    found = []
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            found.append(value)
            found += [m.group(0)[len(m.group(1)) :] for m in _BEARER_RE.finditer(value)]
    return tuple(sorted({v for v in found if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True))


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Hide bearer tokens, token/password JSON fields and the given secret values, wherever they appear."""
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    return _BEARER_RE.sub(r"\1[REDACTED]", _TOKEN_RE.sub(r'\1"[REDACTED]"', text))


def redact_headers(headers: Mapping[str, str], secrets: tuple[str, ...] = ()) -> dict[str, str]:
    return {
        k: ("[REDACTED]" if k.lower() in SECRET_HEADERS else redact_text(v, secrets))
        for k, v in headers.items()
    }


@dataclass(frozen=True)
class Exchange:
    """A request and the start of its response, kept only for failing samples."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int
    response_headers: dict[str, str]
    response_body: str

    @classmethod
    def capture(
        cls,
        *,
        method: str,
        url: str,
        request_headers: Mapping[str, str],
        request_body: str | None,
        status: int,
        response_headers: Mapping[str, str],
        response_body: bytes,
    ) -> Exchange:
        body = response_body[:EXCERPT_BYTES].decode("utf-8", errors="replace")
        secrets = sent_secrets(request_headers)
        return cls(
            method=method,
            url=redact_text(url, secrets),
            request_headers=redact_headers(request_headers),
            request_body=redact_text(request_body[:EXCERPT_BYTES], secrets) if request_body else None,
            status=status,
            response_headers=redact_headers(response_headers, secrets),
            response_body=redact_text(body, secrets),
        )

    def curl(self) -> str:
        """A command that repeats the request (credentials stay redacted)."""
        parts = ["curl", "-sS", "-i", "-X", self.method]
        for name, value in self.request_headers.items():
            if name.lower() not in {"host", "content-length", "accept-encoding", "connection", "user-agent"}:
                parts += ["-H", f"{name}: {value}"]
        if self.request_body:
            parts += ["--data", self.request_body]
        parts.append(self.url)
        return shlex.join(parts)


@dataclass(frozen=True)
class Sample:
    """One observation: when (seconds on the scenario clock), what, and how it went."""

    source: str
    request: str
    t: float
    latency: float
    status: int
    ok: bool
    error: str | None = None
    detail: str | None = None
    expected: bool = False
    observed: dict[str, str | None] | None = None
    """Values of the headers the check looks at, so the timeline shows degraded answers too."""
    exchange: Exchange | None = field(default=None, compare=False)

    @property
    def failed_transport(self) -> bool:
        return self.status == 0

    @property
    def is_error(self) -> bool:
        """Transport failure, or a server error that no expectation asked for."""
        return self.status == 0 or (self.status >= 500 and not self.expected)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.exchange is None:
            data.pop("exchange")
        return data
