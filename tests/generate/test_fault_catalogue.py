"""The generator's faults and their classes come from the installed injectors, a third party's too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from chaosgate import coverage
from chaosgate.exceptions import UsageError
from chaosgate.generate import faults
from chaosgate.injector import Injector, InjectorParams, StarterFault
from chaosgate.plugins import injector_types


class MoodParams(InjectorParams):
    mood: str


class MoodInjector(Injector[MoodParams]):
    """A third party's injector: its own parameters, its own class names, its own starter fault."""

    name: ClassVar[str] = "mood"
    Params: ClassVar[type[InjectorParams]] = MoodParams

    @classmethod
    def fault_class(cls, params: Mapping[str, Any]) -> str:
        return f"temper: {params.get('mood', '?')}"

    @classmethod
    def starter_faults(cls, dependencies: Sequence[str]) -> list[StarterFault]:
        return [StarterFault("mood", {"mood": "grumpy"}, "service", "temper", "grumpy", "a grumpy service")]

    def inject(self) -> None:
        raise AssertionError("never injected by these tests")

    def revert(self) -> None:
        raise AssertionError("never injected by these tests")


@pytest.fixture
def with_mood(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {**{name: injector_types()[name] for name in injector_types()}, "mood": MoodInjector}
    monkeypatch.setattr(coverage, "injector_types", lambda: installed)
    monkeypatch.setattr(faults, "injector_types", lambda: installed)


def test_each_dependency_proxy_adds_its_faults_after_the_api_path() -> None:
    alone = faults.catalogue(())
    both = faults.catalogue(("postgres", "redis"))
    assert [faults.class_of(f) for f in alone] == [
        "network: latency",
        "network: timeout",
        "network: reset",
        "network: bandwidth",
        "network: slicer",
        "network: down",
    ]
    added = [faults.class_of(f) for f in both[len(alone) :]]
    assert added == [f"{p}: {k}" for p in ("postgres", "redis") for k in ("latency", "timeout", "down")]
    assert all(f.dependency and not f.cuts_path for f in both[len(alone) :])
    assert [f.slug for f in alone if f.cuts_path] == ["network-timeout", "network-reset-peer", "network-down"]


def test_a_third_party_injector_names_its_classes_and_proposes_its_faults(with_mood: None) -> None:
    assert coverage.fault_class("mood", {"mood": "sulky"}) == "temper: sulky"
    catalogue = faults.catalogue(("postgres",))
    (mood,) = [f for f in catalogue if f.injector == "mood"]
    assert faults.class_of(mood) == "temper: grumpy"
    assert faults.select(catalogue, "temper") == [mood]
    chosen = faults.select(catalogue, "grumpy,postgres:down")
    assert sorted(faults.class_of(f) for f in chosen) == ["postgres: down", "temper: grumpy"]


def test_an_unknown_class_is_refused_with_a_suggestion(with_mood: None) -> None:
    with pytest.raises(UsageError, match=r"`tempr` applies to this target; did you mean `temper`\?"):
        faults.select(faults.catalogue(()), "tempr")


def test_a_fault_of_an_injector_not_installed_keeps_its_name() -> None:
    assert coverage.fault_class("elsewhere", {"anything": 1}) == "elsewhere"
