"""The API image's lock: the host's versions, the closure for the image's Python, refused when broken."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment

from chaosgate.exceptions import TargetError
from targets.reference.images import API_LOCK, API_PYTHON, IMAGES_DIR, PROJECT_ROOT
from targets.reference.wheels import read_lock

ROOT_LOCK = PROJECT_ROOT / "requirements.lock"
SHA = "--hash=sha256:" + "0" * 64
PIP = f"pip==26.3 {SHA}\n"


def python_environment(version: str) -> dict[str, str]:
    environment = {key: str(value) for key, value in default_environment().items()}
    environment.update(python_full_version=version, python_version=".".join(version.split(".")[:2]))
    return environment


def test_the_image_lock_pins_the_root_lock_versions() -> None:
    image, root = read_lock(API_LOCK), read_lock(ROOT_LOCK)
    assert {"fastapi", "uvicorn", "asyncpg", "redis", "pydantic", "pip", "uvloop"} <= set(image)
    assert set(image) <= set(root)
    assert {name: pin.version for name, pin in image.items()} == {name: root[name].version for name in image}
    # The same release files (an index may have added wheels for other platforms since).
    assert all(set(pin.hashes) & set(root[name].hashes) for name, pin in image.items())


def test_the_image_lock_holds_every_requirement_of_the_image() -> None:
    image = read_lock(API_LOCK)
    for line in (IMAGES_DIR / "api" / "requirements.txt").read_text().splitlines():
        name = line.split("#")[0].split("[")[0].strip()
        if name:
            assert name in image, f"{name} is missing from {API_LOCK} (run `bash ci/lock.sh`)"


def test_markers_are_decided_for_the_image_python() -> None:
    image_python = API_PYTHON.read_text().strip()
    async_timeout = read_lock(ROOT_LOCK)["async-timeout"].requirement.marker
    assert async_timeout is not None  # redis needs it below Python 3.11.3 only
    assert async_timeout.evaluate(python_environment(image_python))
    assert not async_timeout.evaluate(python_environment("3.11.7"))
    assert "async-timeout" in read_lock(API_LOCK)


def test_the_host_venv_runs_the_locked_versions() -> None:
    here = default_environment()
    for name, pin in read_lock(API_LOCK).items():
        marker = read_lock(ROOT_LOCK)[name].requirement.marker
        if marker is None or marker.evaluate({key: str(value) for key, value in here.items()}):
            assert metadata.version(name) == pin.version, name


def test_a_missing_lock_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"cannot read .*requirements\.lock.*bash ci/lock\.sh"):
        read_lock(tmp_path / "requirements.lock")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"{PIP}fastapi>=0.100 \\\n    {SHA}\n", r":2:1: 'fastapi>=0.100' is not pinned to one version"),
        (f"{PIP}redis==8.1.0\n", r":2:1: redis has no --hash"),
        (f"{PIP}redis=8.1.0 {SHA}\n", r":2:1: not a requirement"),
        ("# only comments\n", r"pins nothing"),
    ],
)
def test_a_broken_lock_names_the_line_and_the_fix(tmp_path: Path, text: str, problem: str) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(text)
    with pytest.raises(TargetError, match=r"(?s)" + problem + r".*bash ci/lock\.sh"):
        read_lock(lock)


def test_a_lock_line_reads_with_its_marker_and_hashes(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# header\nAsync_Timeout==5.0.1 ; python_full_version < '3.11.3' \\\n"
        f"    {SHA} \\\n    {SHA.replace('0', '1')}\n    # via redis\n"
    )
    pin = read_lock(lock)["async-timeout"]
    assert (pin.version, len(pin.hashes)) == ("5.0.1", 2)
    assert pin.pin == 'async-timeout==5.0.1 ; python_full_version < "3.11.3"'
