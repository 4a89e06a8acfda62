"""Property: any text given to the loader ends in scenarios or in the project's own error.

Random YAML and mutations of a valid scenario (keys dropped, renamed, values
swapped for other types, lines shuffled or cut) must never escape as a
KeyError, TypeError or a library's exception: authors get located messages.
"""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaosgate.exceptions import ScenarioError
from chaosgate.scenario.loader import LoadedScenario, load_document
from chaosgate.scenario.marked_yaml import iter_documents

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = (ROOT / "scenarios" / "dependencies" / "postgres-timeout.yaml").read_text()
SAMPLE_DATA = yaml.safe_load(SAMPLE)


def load_text(text: str) -> list[LoadedScenario]:
    return [load_document(doc) for doc in iter_documents("fuzz.yaml", text)]


def assert_loads_or_reports(text: str) -> None:
    try:
        loaded = load_text(text)
    except ScenarioError as error:
        rendered = error.render()
        assert "fuzz.yaml" in rendered or not rendered
        return
    for item in loaded:
        assert item.scenario.id


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["5s", "p95 < 150ms", "toxiproxy", "${setup.x.y}", "GET", "-1s"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200))
def test_random_text(text: str) -> None:
    assert_loads_or_reports(text)


def paths_of(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += paths_of(value, (*prefix, index))
    return out


def mutate(data: object, path: tuple[object, ...], action: str, value: object) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        if not rest and action == "drop":
            copy.pop(head, None)
        elif not rest and action == "rename":
            copy[f"{head}x"] = copy.pop(head)
        else:
            copy[head] = mutate(copy[head], rest, action, value)
        return copy
    if isinstance(data, list):
        copy_list = list(data)
        if not rest and action == "drop":
            del copy_list[head]  # type: ignore[call-overload]
        else:
            copy_list[head] = mutate(copy_list[head], rest, action, value)  # type: ignore[call-overload]
        return copy_list
    return value


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(paths_of(SAMPLE_DATA)[1:]),
    st.sampled_from(["replace", "drop", "rename"]),
    values,
)
def test_mutated_valid_scenario(path: tuple[object, ...], action: str, value: object) -> None:
    mutated = mutate(SAMPLE_DATA, path, action, value)
    assert_loads_or_reports(yaml.safe_dump(mutated, sort_keys=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mangled_source_lines(data: st.DataObject) -> None:
    lines = SAMPLE.splitlines()
    cut = data.draw(st.integers(0, len(lines)))
    swap = data.draw(st.permutations(range(min(6, len(lines)))))
    head = [lines[i] for i in swap] + lines[len(swap) : cut]
    junk = data.draw(st.text(alphabet=" :-[]{}#&*!|>'\"\t\nabc0", max_size=20))
    assert_loads_or_reports("\n".join(head) + junk)
