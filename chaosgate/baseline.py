"""What got worse between two runs: the score, a gate, an expectation, the p95 (R6.4).

`chaosgate compare A B` prints these; `chaosgate run --baseline PATH` turns
any regression into a No-Go with the regression as the reason. Latency is
compared per scenario over its whole run and its steady state; growth
counts only beyond both a relative and an absolute tolerance, because a
2 ms p95 that becomes 4 ms doubled but changed nothing a user notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaosgate.exceptions import UsageError
from chaosgate.results import RunResult, ScenarioResult
from chaosgate.scenario.quantities import QuantityError, parse_duration

Change = Literal["regression", "improvement", "note"]
COMPARED_WINDOWS = ("run", "steady")


@dataclass(frozen=True)
class Tolerance:
    """How much worse is still not a regression."""

    score: float = 2.0
    """Points of score a scenario or the suite may lose."""
    p95: float = 0.25
    """Relative p95 growth allowed (0.25 = 25 %)..."""
    p95_abs: float = 0.05
    """...and absolute growth in seconds: both must be exceeded."""

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        """``score=2,p95=25%,p95_abs=50ms``; every key optional."""
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, raw = part.partition("=")
            try:
                if key == "score":
                    values[key] = float(raw)
                elif key == "p95":
                    values[key] = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
                elif key == "p95_abs":
                    values[key] = parse_duration(raw)
                else:
                    raise UsageError(f"--max-regression: unknown key `{key}` (known: score, p95, p95_abs)")
            except (ValueError, QuantityError):
                raise UsageError(f"--max-regression: `{part}` is not a number with its unit") from None
        return cls(**values)


@dataclass(frozen=True)
class Difference:
    change: Change
    scenario: str | None
    text: str

    def line(self) -> str:
        where = f"{self.scenario}: " if self.scenario else ""
        return f"{self.change}: {where}{self.text}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms"


def _latency(base: ScenarioResult, cur: ScenarioResult, tol: Tolerance) -> list[Difference]:
    out = []
    for window in COMPARED_WINDOWS:
        before = base.latency.get(window, {}).get("p95")
        after = cur.latency.get(window, {}).get("p95")
        if before is None or after is None:
            continue
        growth = after - before
        if growth > tol.p95_abs and growth > before * tol.p95:
            pct = f" (+{growth / before:.0%})" if before > 0 else ""
            out.append(
                Difference(
                    "regression",
                    cur.id,
                    f"p95 over the {window} window grew from {_ms(before)} to {_ms(after)}{pct}, "
                    f"beyond the tolerance of {tol.p95:.0%} and {_ms(tol.p95_abs)}",
                )
            )
    return out


def _expectations(base: ScenarioResult, cur: ScenarioResult) -> list[Difference]:
    out = []
    before = {e.id: e for e in base.expectations if e.applicable}
    for e in cur.expectations:
        old = before.get(e.id)
        if old is None or not e.applicable or old.passed == e.passed:
            continue
        what = "gate" if e.kind == "sla" else "expectation"
        measured = f" (measured {e.measured or 'nothing'}, threshold {e.threshold or '-'})"
        if e.passed:
            out.append(Difference("improvement", cur.id, f"{what} {e.id} `{e.name}` now passes{measured}"))
        else:
            out.append(Difference("regression", cur.id, f"{what} {e.id} `{e.name}` newly fails{measured}"))
    return out


def compare(base: RunResult, cur: RunResult, tol: Tolerance | None = None) -> list[Difference]:
    """Regressions first, then improvements and notes."""
    tol = tol or Tolerance()
    out: list[Difference] = []
    if base.score - cur.score > tol.score:
        out.append(
            Difference("regression", None, f"suite score dropped from {base.score:g} to {cur.score:g}")
        )
    if base.verdict.decision == "go" and cur.verdict.decision == "no-go":
        out.append(Difference("note", None, "the baseline was Go, this run is No-Go"))
    earlier = {s.id: s for s in base.scenarios}
    for s in cur.scenarios:
        old = earlier.pop(s.id, None)
        if old is None:
            out.append(Difference("note", s.id, "not in the baseline"))
            continue
        if old.score - s.score > tol.score:
            out.append(Difference("regression", s.id, f"score dropped from {old.score:g} to {s.score:g}"))
        if old.status == "passed" and s.status != "passed":
            out.append(Difference("regression", s.id, f"was passed, now {s.status}: {s.reason}".rstrip(": ")))
        out += _expectations(old, s) + _latency(old, s, tol)
    out += [Difference("note", scenario_id, "in the baseline, not in this run") for scenario_id in earlier]
    order = {"regression": 0, "improvement": 1, "note": 2}
    return sorted(out, key=lambda d: order[d.change])


def regressions(differences: list[Difference]) -> list[Difference]:
    return [d for d in differences if d.change == "regression"]
