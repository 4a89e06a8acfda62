"""`chaosgate doctor`: all present on this machine; a missing component gives exit 3 and its fix."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from chaosgate.doctor import (
    Check,
    CheckResult,
    binary_check,
    default_checks,
    postgres_check,
    run_doctor,
)
from chaosgate.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parent.parent


def _doctor(checks: list[Check] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = run_doctor(out, checks)
    return code, out.getvalue()


def test_everything_is_present_on_this_machine() -> None:
    code, text = _doctor()
    assert code == ExitCode.GO, text
    assert "missing" not in text
    server = next(line for line in text.splitlines() if "Toxiproxy server" in line)
    assert server.split()[0] == "ok"
    assert "2.12.0" in server
    for component in ("Docker engine", "PostgreSQL server", "Redis server", "Chromium", "python: locust"):
        assert component in text


def test_doctor_does_not_import_locust() -> None:
    """Importing locust would gevent-patch the process (R2.3): the check only looks it up."""
    probe = (
        "import io, sys; from chaosgate.doctor import run_doctor; run_doctor(io.StringIO()); "
        "print('locust' in sys.modules, 'gevent' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_programs_missing_from_path_give_exit_3_and_the_fix(tmp_path: Path) -> None:
    code, text = _doctor(default_checks(path=str(tmp_path), postgres_roots=[tmp_path]))
    assert code == ExitCode.INFRASTRUCTURE
    lines = {line.split()[1]: line for line in text.splitlines() if line.startswith("  missing")}
    assert "fix: apt-get install -y redis-server" in lines["Redis"]
    assert "fix: apt-get install -y chromium" in lines["Chromium"]
    assert "fix: apt-get install -y postgresql" in lines["PostgreSQL"]
    assert "bash ci/install.sh" in lines["Toxiproxy"]
    assert "go install" in lines["Toxiproxy"]
    assert "@v2.12.0" in lines["Toxiproxy"]
    assert "components missing" in text.splitlines()[-1]


def test_the_command_exits_3_when_path_hides_the_programs(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "chaosgate", "doctor"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == ExitCode.INFRASTRUCTURE, done.stdout + done.stderr
    assert "missing  Toxiproxy server" in done.stdout
    assert "fix: bash ci/install.sh" in done.stdout


def test_a_wrong_toxiproxy_version_is_not_ok(tmp_path: Path) -> None:
    fake = tmp_path / "toxiproxy-server"
    fake.write_text("#!/bin/sh\necho 'toxiproxy-server version 2.11.0'\n")
    fake.chmod(0o755)
    check = binary_check(
        "Toxiproxy server", ["toxiproxy-server"], "bash ci/install.sh", path=str(tmp_path), want="2.12.0"
    )
    code, text = _doctor([check])
    assert code == ExitCode.INFRASTRUCTURE
    assert "is version 2.11.0, chaosgate needs 2.12.0; fix: bash ci/install.sh" in text


def test_injected_checks_decide_the_exit_code() -> None:
    fine = Check("thing", lambda: CheckResult(True, "1.0"))
    assert _doctor([fine]) == (
        ExitCode.GO,
        "chaosgate doctor: what is installed and reachable\n"
        "  ok       thing  1.0\nall 1 components present\n",
    )
    gone = Check("other", lambda: CheckResult(False, "not installed", "apt-get install -y other"))
    code, text = _doctor([fine, gone])
    assert code == ExitCode.INFRASTRUCTURE
    assert "  missing  other  not installed; fix: apt-get install -y other" in text


def test_a_probe_that_raises_is_reported_not_fatal() -> None:
    def broken() -> CheckResult:
        raise RuntimeError("boom")

    code, text = _doctor([Check("broken", broken), Check("fine", lambda: CheckResult(True, "2"))])
    assert code == ExitCode.INFRASTRUCTURE
    assert "missing  broken  check failed: RuntimeError: boom" in text
    assert "ok       fine" in text


def test_postgres_is_found_where_debian_puts_it(tmp_path: Path) -> None:
    bindir = tmp_path / "16" / "bin"
    bindir.mkdir(parents=True)
    for tool in ("postgres", "initdb", "pg_ctl"):
        (bindir / tool).write_text("#!/bin/sh\necho 'postgres (PostgreSQL) 16.4'\n")
        (bindir / tool).chmod(0o755)
    result = postgres_check([tmp_path], path=str(tmp_path / "empty")).probe()
    assert result.ok
    assert result.detail.startswith("16.4")
