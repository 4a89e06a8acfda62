import pytest

from chaosgate.exceptions import ChaosgateError
from chaosgate.scenario.templating import Reference, TemplateError, check_reference, references, render


def parts(text: str) -> list[tuple[str, ...]]:
    return [reference.parts for reference in references(text)]


def test_references_are_split_into_parts() -> None:
    assert parts("/api/v1/agents/${setup.agent.id}/config?x=${env.X}") == [
        ("setup", "agent", "id"),
        ("env", "X"),
    ]


def test_a_default_follows_the_name_and_may_hold_dots_and_colons() -> None:
    (reference,) = references("${env.BASE:-http://127.0.0.1:8080/a.b}")
    assert reference == Reference(("env", "BASE"), "http://127.0.0.1:8080/a.b")
    (empty,) = references("${env.TOKEN:-}")
    assert empty == Reference(("env", "TOKEN"), "")


def test_setup_reference_must_name_a_defined_step() -> None:
    check_reference(Reference(("setup", "agent", "id")), ["agent"], {})
    with pytest.raises(TemplateError, match="not defined") as misspelt:
        check_reference(Reference(("setup", "agnet", "id")), ["agent"], {})
    assert misspelt.value.suggestion == "agent"
    with pytest.raises(TemplateError, match="must start with"):
        check_reference(Reference(("steup", "agent")), ["agent"], {})


def test_env_reference_must_be_set_unless_it_declares_a_default() -> None:
    check_reference(Reference(("env", "TOKEN")), [], {"TOKEN": "t"})
    check_reference(Reference(("env", "TOKEN")), [], {"TOKEN": ""})
    check_reference(Reference(("env", "TOKEN"), "fallback"), [], {})
    with pytest.raises(TemplateError, match="`TOKNE` is not set") as unset:
        check_reference(Reference(("env", "TOKNE")), [], {"TOKEN": "t"})
    assert unset.value.suggestion == "TOKEN"
    assert "${env.TOKNE:-value}" in str(unset.value)
    with pytest.raises(TemplateError, match="no fields"):
        check_reference(Reference(("env", "TOKEN", "x")), [], {"TOKEN": "t"})


def test_render_keeps_types_of_whole_references_and_interpolates_parts() -> None:
    context = {"setup": {"agent": {"id": 42, "tags": ["a", "b"]}}}
    assert render("${setup.agent.id}", context) == 42
    assert render("/agents/${setup.agent.id}", context) == "/agents/42"
    assert render({"x": ["${setup.agent.tags.1}"]}, context) == {"x": ["b"]}
    with pytest.raises(TemplateError, match="no value"):
        render("${setup.agent.missing}", context)


def test_render_uses_the_default_when_unset_or_empty_and_the_value_otherwise() -> None:
    context = {"env": {"SET": "real", "EMPTY": ""}}
    assert render("/a/${env.UNSET:-fallback}/b", context) == "/a/fallback/b"
    assert render("${env.EMPTY:-fallback}", context) == "fallback"
    assert render("${env.SET:-fallback}", context) == "real"
    assert render("${env.UNSET:-}", context) == ""


def test_a_failed_render_is_an_error_of_the_project_not_a_bare_value_error() -> None:
    with pytest.raises(ChaosgateError) as caught:
        render("/x/${env.NOT_THERE}", {"env": {}})
    assert not isinstance(caught.value, ValueError)
    assert "`${env.NOT_THERE}` has no value at `NOT_THERE`" in caught.value.render()
