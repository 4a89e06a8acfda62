import pytest

from chaosgate.scenario.quantities import QuantityError, format_duration, parse_duration, parse_threshold


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("150ms", 0.15), ("5s", 5.0), ("2m", 120.0), ("1h", 3600.0), ("2.5s", 2.5), (3, 3.0), (0.25, 0.25)],
)
def test_durations_parse_to_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5", "five seconds", "-1s", "5 sec", True, None, [], -2])
def test_bad_durations_say_what_would_parse(bad: object) -> None:
    with pytest.raises(QuantityError, match=r"duration|negative"):
        parse_duration(bad)


def test_duration_round_trips_in_readable_form() -> None:
    assert format_duration(0.15) == "150ms"
    assert format_duration(5.0) == "5s"


@pytest.mark.parametrize(
    ("text", "metric", "value", "measured_pass", "measured_fail"),
    [
        ("p95 < 150ms", "p95", 0.15, 0.149, 0.15),
        ("error_rate < 0.1%", "error_rate", 0.001, 0.0009, 0.001),
        ("rps >= 100", "rps", 100.0, 100.0, 99.9),
        ("recover < 5s", "recover", 5.0, 4.99, 5.0),
        ("availability >= 99.9%", "availability", 0.999, 0.9995, 0.998),
        ("lost == 0", "lost", 0.0, 0.0, 1.0),
        ("replay_accuracy == 100%", "replay_accuracy", 1.0, 1.0, 0.99),
        ("error_rate<=0.5", "error_rate", 0.5, 0.5, 0.51),
    ],
)
def test_thresholds_compare_in_canonical_units(
    text: str, metric: str, value: float, measured_pass: float, measured_fail: float
) -> None:
    threshold = parse_threshold(text)
    assert threshold.metric == metric
    assert threshold.value == pytest.approx(value)
    assert threshold.passes(measured_pass)
    assert not threshold.passes(measured_fail)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95 < 150", "give a unit"),
        ("eror_rate < 1%", "did you mean `error_rate`"),
        ("error_rate < 5ms", "percentage"),
        ("error_rate < 120%", "cannot exceed 100%"),
        ("lost == 1s", "count"),
        ("rps >= 100ms", "requests per second"),
        ("p95 150ms", "expected a threshold"),
    ],
)
def test_bad_thresholds_explain_the_fix(text: str, message: str) -> None:
    with pytest.raises(QuantityError, match=message):
        parse_threshold(text)


def test_threshold_formats_measurements_in_its_own_unit() -> None:
    assert parse_threshold("p95 < 150ms").format_value(0.3124) == "312.4ms"
    assert parse_threshold("error_rate < 0.1%").format_value(0.0125) == "1.25%"
