"""Plotly figures (as plain data) for the timeline of each scenario and the trend across runs.

The figures are built as the JSON plotly.js reads rather than through
plotly's Python figure classes: the data is already aggregated, and the
validation those classes do costs seconds on a large run without checking
anything this module does not control. The browser code is plotly.js from
the plotly wheel, inlined once per page (see `plotly_js`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import pandas as pd

from chaosgate.results import ExpectationResult, RunResult, ScenarioResult
from chaosgate.scenario.quantities import QuantityError, parse_threshold

Figure = dict[str, Any]
LATENCY, ERRORS, THROUGHPUT = "y", "y2", "y3"
PANELS = {LATENCY: (0.56, 1.0), ERRORS: (0.28, 0.5), THROUGHPUT: (0.0, 0.22)}
PERCENTILE_STYLE = {"p50": "dot", "p95": "solid", "p99": "dash"}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
FAULT_FILL = "rgba(214, 39, 40, 0.13)"
LATENCY_METRICS = {"p50", "p75", "p90", "p95", "p99", "max", "mean"}


@cache
def plotly_js() -> str:
    """plotly.min.js from the installed plotly wheel: the page needs no network to draw."""
    from plotly.offline import get_plotlyjs  # noqa: PLC0415 - 5 MB of text, only when rendering

    script: str = get_plotlyjs()
    return script.replace("</script", "<\\/script")


def _text(text: str) -> str:
    """Scenario text for plotly, which reads `<b>`, `<a href>` and entities in labels: show it as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _values(column: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else round(float(v), 1) for v in column]


def _traces(buckets: pd.DataFrame) -> list[dict[str, Any]]:
    traces: list[dict[str, Any]] = []
    for index, (source, sampled) in enumerate(buckets.groupby("source", observed=True, sort=True)):
        color = PALETTE[index % len(PALETTE)]
        # Every second from the first to the last, a missing one as a gap: x is then `x0 + i`,
        # which spares the page one list of times per line.
        first, last = int(sampled["second"].min()), int(sampled["second"].max())
        rows = sampled.set_index("second").reindex(range(first, last + 1))
        common = {"type": "scatter", "mode": "lines", "x0": first, "dx": 1, "legendgroup": _text(str(source))}
        for metric, dash in PERCENTILE_STYLE.items():
            traces.append(
                {
                    **common,
                    "y": _values(rows[metric]),
                    "name": _text(str(source) if metric == "p95" else f"{source} {metric}"),
                    "showlegend": metric == "p95",
                    "yaxis": LATENCY,
                    "line": {"color": color, "dash": dash, "width": 2 if metric == "p95" else 1},
                }
            )
        traces.append(
            {
                **common,
                "y": _values(rows["error_rate"]),
                "name": _text(f"{source} errors"),
                "yaxis": ERRORS,
                "showlegend": False,
                "line": {"color": color},
            }
        )
        traces.append(
            {
                **common,
                "y": _values(rows["throughput"]),
                "name": _text(f"{source} req/s"),
                "yaxis": THROUGHPUT,
                "showlegend": False,
                "line": {"color": color},
            }
        )
    return traces


def _fault_shapes(scenario: ScenarioResult) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shapes, notes = [], []
    for fault in scenario.faults:
        if fault.injected_at is None:
            continue
        start = fault.inject_started if fault.inject_started is not None else fault.injected_at
        end = fault.reverted_at if fault.reverted_at is not None else start + fault.planned_for
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": start,
                "x1": end,
                "y0": 0,
                "y1": 1,
                "fillcolor": FAULT_FILL,
                "line": {"width": 0},
                "layer": "below",
                "name": _text(f"fault {fault.name}"),
            }
        )
        notes.append(_note(start, 1.0, _text(f"⚡ {fault.name}"), "paper", anchor="left"))
        for label, base, delay, color in (
            ("detected", fault.injected_at, fault.detect, "#d62728"),
            ("recovered", fault.reverted_at, fault.recover, "#2ca02c"),
        ):
            if base is None or delay is None:
                continue
            shapes.append(_vline(base + delay, color))
            spoken = f"{delay * 1000:.0f} ms" if delay < 1 else f"{delay:.1f} s"
            notes.append(_note(base + delay, 0.02, f"{label} after {spoken}", "paper", anchor="left"))
    return shapes, notes


def _vline(x: float, color: str) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": color, "width": 1.5, "dash": "dot"},
    }


def _note(x: float, y: float, text: str, yref: str, *, anchor: str = "right") -> dict[str, Any]:
    return {
        "x": x,
        "y": y,
        "xref": "x",
        "yref": yref,
        "text": text,
        "showarrow": False,
        "xanchor": anchor,
        "yanchor": "bottom" if yref == "paper" and y > 0.5 else "top" if y > 0.5 else "bottom",
        "font": {"size": 11},
    }


def _spans(scenario: ScenarioResult, window: str, end: float) -> list[tuple[float, float]]:
    if window in ("steady", "run"):
        spans = scenario.windows.get("before", []) + scenario.windows.get("after", [])
        return spans or [(0.0, end)]
    return [tuple(span) for span in scenario.windows.get(window, [])]  # type: ignore[misc]


def _thresholds(
    scenario: ScenarioResult, end: float, tops: dict[str, float]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A line at each metric expectation's threshold, over the window it is judged in. A threshold
    far above anything measured is named at the top of its panel instead of squashing the data."""
    shapes, notes = [], []
    seen: set[tuple[str, str, float]] = set()
    above: dict[tuple[str, float], list[str]] = {}
    for e in scenario.expectations:
        axis, value = _axis_value(e)
        if axis is None or e.threshold is None or (axis, e.window, value) in seen:
            continue
        seen.add((axis, e.window, value))
        if value > tops[axis]:
            spans = _spans(scenario, e.window, end)
            # Named at the left of its window: the right end is where in-range lines are named.
            above.setdefault((axis, spans[0][0] if spans else 0.0), []).append(f"{e.threshold} ({e.window})")
            continue
        color = "#2ca02c" if e.passed else "#d62728"
        for x0, x1 in _spans(scenario, e.window, end):
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": axis,
                    "x0": x0,
                    "x1": x1,
                    "y0": value,
                    "y1": value,
                    "line": {"color": color, "width": 1.5, "dash": "dashdot"},
                }
            )
        x1 = _spans(scenario, e.window, end)[-1][1] if _spans(scenario, e.window, end) else end
        notes.append({**_note(x1, value, _text(f"{e.threshold} ({e.window})"), axis), "yanchor": "bottom"})
    for (axis, x), texts in above.items():
        text = _text("↑ " + " · ".join(texts))
        notes.append({**_note(x, tops[axis], text, axis, anchor="left"), "yanchor": "top"})
    return shapes, notes


def _axis_value(e: ExpectationResult) -> tuple[str | None, float]:
    if e.kind not in ("metric", "sla") or not e.applicable or not e.threshold:
        return None, 0.0
    try:
        threshold = parse_threshold(e.threshold)
    except QuantityError:
        return None, 0.0
    if threshold.metric in LATENCY_METRICS:
        return LATENCY, threshold.value * 1000.0
    if threshold.metric == "error_rate":
        return ERRORS, threshold.value * 100.0
    if threshold.metric == "rps":
        return THROUGHPUT, threshold.value
    return None, 0.0


def _highest(buckets: pd.DataFrame) -> dict[str, float]:
    """The highest value each panel shows (at least a small floor, so a flat zero still has a scale)."""
    highest = {
        LATENCY: float(buckets[["p50", "p95", "p99"]].max().max()),
        ERRORS: float(buckets["error_rate"].max()),
        THROUGHPUT: float(buckets["throughput"].max()),
    }
    floor = {LATENCY: 10.0, ERRORS: 0.1, THROUGHPUT: 1.0}
    return {axis: max(0.0 if pd.isna(v) else v, floor[axis]) for axis, v in highest.items()}


def _layout(
    title: str, shapes: list[dict[str, Any]], notes: list[dict[str, Any]], tops: dict[str, float]
) -> dict[str, Any]:
    axes = {
        "yaxis" if axis == "y" else f"yaxis{axis[1:]}": {
            "domain": list(PANELS[axis]),
            "title": {"text": label},
            "rangemode": "tozero",
            "zeroline": True,
            "range": [0, tops[axis]],
            "autorange": False,
        }
        for axis, label in ((LATENCY, "latency (ms)"), (ERRORS, "errors (%)"), (THROUGHPUT, "req/s"))
    }
    return {
        "title": {"text": title, "font": {"size": 14}},
        "height": 560,
        "margin": {"l": 60, "r": 20, "t": 60, "b": 40},
        "xaxis": {"title": {"text": "seconds since sampling started"}, "anchor": THROUGHPUT},
        **axes,
        "shapes": shapes,
        "annotations": notes,
        "legend": {"orientation": "h", "y": -0.12},
        "hovermode": "x unified",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"},
    }


def timeline(scenario: ScenarioResult, buckets: pd.DataFrame) -> Figure | None:
    """Latency percentiles, error rate and throughput per source, with faults, thresholds, detection
    and recovery drawn on them; None when nothing was sampled."""
    if buckets.empty:
        return None
    end = float(buckets["second"].max()) + 1.0
    highest = _highest(buckets)
    fault_shapes, fault_notes = _fault_shapes(scenario)
    line_shapes, line_notes = _thresholds(scenario, end, {a: 3 * v for a, v in highest.items()})
    tops = {axis: 1.15 * value for axis, value in highest.items()}
    for shape in line_shapes:
        tops[shape["yref"]] = max(tops[shape["yref"]], 1.15 * shape["y0"])
    for note in line_notes:
        if note["yanchor"] == "top":
            note["y"] = tops[note["yref"]]
    title = "per second, by source: latency p95 (solid), p50 (dotted), p99 (dashed); errors; throughput"
    return {
        "data": _traces(buckets),
        "layout": _layout(title, fault_shapes + line_shapes, fault_notes + line_notes, tops),
    }


def trend(runs: Sequence[RunResult], worst_p95: Sequence[float | None]) -> Figure:
    """Suite and category scores, and the slowest scenario's steady p95, over the last runs."""
    labels = [f"{r.started_at[:16].replace('T', ' ')} {r.run_id[-6:]}" for r in runs]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": labels,
            "y": [r.score for r in runs],
            "name": "score",
        }
    ]
    for category in sorted({c for r in runs for c in r.categories}):
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": labels,
                "y": [r.categories.get(category) for r in runs],
                "name": f"{category} score",
                "line": {"dash": "dot", "width": 1},
            }
        )
    data.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": labels,
            "y": [None if v is None else round(v * 1000, 1) for v in worst_p95],
            "name": "slowest steady p95 (ms, right axis)",
            "yaxis": "y2",
            "line": {"color": "#9467bd", "width": 2, "dash": "dash"},
            "marker": {"symbol": "diamond", "size": 9},
        }
    )
    layout = {
        "height": 300,
        "margin": {"l": 50, "r": 60, "t": 30, "b": 60},
        "yaxis": {"title": {"text": "score"}, "range": [0, 105]},
        "yaxis2": {
            "title": {"text": "p95 (ms)"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "tickformat": ".0f",
            "showgrid": False,
        },
        "legend": {"orientation": "h", "y": -0.3},
        "xaxis": {"type": "category"},
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"},
    }
    return {"data": data, "layout": layout}
