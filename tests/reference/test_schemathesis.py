"""The OpenAPI schema is exact: schemathesis (all checks) finds nothing against the live stack.

Bounded: a fixed seed and a small number of examples per operation keep it
around ten seconds; the full-strength run is the same command with more
examples. ``/auth/logout`` is excluded because it would revoke the token the
fuzzer authenticates with (it is covered by ``test_auth.py``); so are the kill
switch and the emergency policies, which would switch the whole API into a
restricted mode for the rest of the run (``test_operations.py`` and
``test_policies.py`` cover their contracts). The fuzzer has
no chaos token: it exercises the chaos routes' 401 contract but can never
switch a fault on in the middle of the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from prism_stack import PrismStack

MAX_EXAMPLES = 20
SEED = 20_261_122


def _schemathesis() -> str:
    beside_python = Path(sys.executable).parent / "schemathesis"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("schemathesis")
    assert found, "schemathesis is not installed in this environment"
    return found


def test_schemathesis_all_checks_find_nothing(prism: PrismStack, tmp_path: Path) -> None:
    token = prism.token("admin")
    argv = [
        _schemathesis(),
        "run",
        f"{prism.base_url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--exclude-path",
        "/api/v1/auth/logout",
        "--exclude-path",
        "/api/v1/system/kill-switch",
        "--exclude-path",
        "/api/v1/policies/{policy_id}",
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""}
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=150, check=False, env=env, cwd=tmp_path
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "Failures:" not in output, output[-6000:]
    assert "passed" in output, output[-3000:]
