"""The `app` injector against the reference implementation's chaos control endpoint (R3.5)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from chaosgate.exceptions import InjectorError
from chaosgate.injector import InjectionContext
from injectors.app import AppInjector, AppParams
from tests.reference.prism_stack import CHAOS_TOKEN, PrismStack, assert_envelope


def context(prism: PrismStack, state: Path, token: str = CHAOS_TOKEN) -> InjectionContext:
    return InjectionContext(
        run_id=f"t{uuid.uuid4().hex[:6]}",
        state_dir=state,
        resources={"chaos_url": f"{prism.base_url}/api/v1/chaos", "chaos_token": token},
    )


def test_storage_corruption_is_injected_and_reverted(
    prism: PrismStack, api: httpx.Client, tmp_path: Path
) -> None:
    injector = AppInjector(AppParams(fault="storage_corruption"), context(prism, tmp_path))
    assert injector.describe() == "app: storage corruption (chaos endpoint)"
    with injector:
        refused = api.post("/api/v1/agents", json={"name": "x"}, headers=prism.headers("operator"))
        assert_envelope(refused, 500, "data_integrity")
    prism.wait_healthy(seconds=5.0)
    assert (
        api.post("/api/v1/agents", json={"name": "y"}, headers=prism.headers("operator")).status_code == 201
    )
    assert list((tmp_path / "app").glob("*.json")) == []


def test_a_wrong_token_or_no_endpoint_is_an_injector_error(prism: PrismStack, tmp_path: Path) -> None:
    with pytest.raises(InjectorError, match="refused the chaos token"):
        AppInjector(AppParams(fault="agent_busy"), context(prism, tmp_path, token="wrong")).inject()
    bare = InjectionContext(run_id="r", state_dir=tmp_path)
    with pytest.raises(InjectorError, match="publishes no chaos endpoint"):
        AppInjector(AppParams(fault="agent_busy"), bare).inject()


def test_cleanup_reverts_what_a_killed_run_left(prism: PrismStack, api: httpx.Client, tmp_path: Path) -> None:
    chaos_url = f"{prism.base_url}/api/v1/chaos"
    script = (
        "import sys; from pathlib import Path; from chaosgate.injector import InjectionContext;"
        "from injectors.app import AppInjector, AppParams;"
        f"ctx = InjectionContext(run_id='killed', state_dir=Path({str(tmp_path)!r}),"
        f" resources={{'chaos_url': {chaos_url!r}, 'chaos_token': {CHAOS_TOKEN!r}}});"
        "AppInjector(AppParams(fault='storage_corruption'), ctx).inject(); sys.exit(0)"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)  # exits without reverting
    assert_envelope(api.post("/api/v1/agents", json={"name": "x"}, headers=prism.headers("operator")), 500)
    lines = AppInjector.cleanup(InjectionContext(run_id="cleanup", state_dir=tmp_path))
    assert lines == [f"app: reverted storage_corruption at {prism.base_url}/api/v1/chaos/faults"]
    prism.wait_healthy(seconds=5.0)
    assert (
        api.post("/api/v1/agents", json={"name": "y"}, headers=prism.headers("operator")).status_code == 201
    )
