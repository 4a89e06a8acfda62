import pytest

from chaosgate.scenario.templating import TemplateError, check_reference, references, render


def test_references_are_split_into_parts() -> None:
    assert list(references("/api/v1/agents/${setup.agent.id}/config?x=${env.X}")) == [
        ("setup", "agent", "id"),
        ("env", "X"),
    ]


def test_setup_reference_must_name_a_defined_step() -> None:
    check_reference(("setup", "agent", "id"), ["agent"])
    with pytest.raises(TemplateError, match="not defined"):
        check_reference(("setup", "agnet", "id"), ["agent"])
    with pytest.raises(TemplateError, match="must start with"):
        check_reference(("steup", "agent"), ["agent"])


def test_render_keeps_types_of_whole_references_and_interpolates_parts() -> None:
    context = {"setup": {"agent": {"id": 42, "tags": ["a", "b"]}}}
    assert render("${setup.agent.id}", context) == 42
    assert render("/agents/${setup.agent.id}", context) == "/agents/42"
    assert render({"x": ["${setup.agent.tags.1}"]}, context) == {"x": ["b"]}
    with pytest.raises(TemplateError, match="no value"):
        render("${setup.agent.missing}", context)
