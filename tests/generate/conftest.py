"""Documents to generate from: the reference's, a third party's served by a local service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chaosgate.ports import free_port
from chaosgate.processes import ManagedProcess

INVENTORY = Path(__file__).resolve().parents[1] / "support" / "inventory_service.py"
INVENTORY_KEY = "inventory-test-key"


@pytest.fixture(scope="session")
def reference_openapi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference's OpenAPI document, from the app itself: no stack needed."""
    from reference_impl.app import create_app  # noqa: PLC0415 - FastAPI only for these tests

    path = tmp_path_factory.mktemp("reference") / "openapi.json"
    path.write_text(json.dumps(create_app().openapi()))
    return path


def _inventory(factory: pytest.TempPathFactory, *extra: str) -> Iterator[str]:
    port = free_port()
    with ManagedProcess(
        "inventory-service",
        [sys.executable, str(INVENTORY), str(port), INVENTORY_KEY, *extra],
        port=port,
        log_dir=factory.mktemp("inventory"),
    ):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def inventory_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _inventory(tmp_path_factory)


@pytest.fixture
def broken_inventory_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same service, answering GET /v2/items without the X-Total-Count it documents."""
    yield from _inventory(tmp_path_factory, "--no-total-header")


def chaosgate(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in `cwd` (where its targets/ folder is)."""
    return subprocess.run(
        [sys.executable, "-m", "chaosgate", *args],
        cwd=cwd,
        env={**os.environ, "CHAOSGATE_STATE_DIR": str(cwd / "state"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_target(cwd: Path, name: str, **spec: object) -> None:
    (cwd / "targets").mkdir(exist_ok=True)
    (cwd / "targets" / f"{name}.yaml").write_text(yaml.safe_dump(spec))


def scenarios_in(folder: Path) -> dict[str, dict[str, object]]:
    """Every generated file's content, by its path relative to `folder`."""
    return {
        str(path.relative_to(folder)): yaml.safe_load(path.read_text())
        for path in sorted(folder.rglob("*.yaml"))
    }
