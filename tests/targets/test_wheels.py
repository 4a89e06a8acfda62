"""The API image's pins come from uv.lock: the host's .venv versions, markers for the image's Python."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from chaosgate.exceptions import TargetError
from targets.reference.images import IMAGES_DIR, LOCK_FILE
from targets.reference.wheels import locked_pins, read_requirements

API_REQUIREMENTS = read_requirements(IMAGES_DIR / "api" / "requirements.txt")


def pinned(pins: list[str]) -> dict[str, str]:
    return dict(pin.split("==") for pin in pins)


def test_every_pin_is_the_version_installed_here() -> None:
    pins = pinned(locked_pins(LOCK_FILE, [*API_REQUIREMENTS, Requirement("pip")], "3.11.7"))
    assert {"fastapi", "uvicorn", "asyncpg", "redis", "pydantic", "pip", "uvloop"} <= set(pins)
    assert {name: metadata.version(name) for name in pins} == pins


def test_markers_are_evaluated_for_the_image_python() -> None:
    on_image = pinned(locked_pins(LOCK_FILE, API_REQUIREMENTS, "3.11.2"))
    on_host = pinned(locked_pins(LOCK_FILE, API_REQUIREMENTS, "3.11.7"))
    assert "async-timeout" in on_image  # redis needs it below Python 3.11.3
    assert "async-timeout" not in on_host
    assert {k: v for k, v in on_image.items() if k != "async-timeout"} == on_host


def test_a_requirement_missing_from_the_lock_says_to_relock(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text('version = 1\n\n[[package]]\nname = "redis"\nversion = "8.0.0"\n')
    with pytest.raises(TargetError, match=r"not in .*uv lock"):
        locked_pins(lock, [Requirement("fastapi")], "3.11.2")
    with pytest.raises(TargetError, match="does not satisfy redis>=9"):
        locked_pins(lock, [Requirement("redis>=9")], "3.11.2")
