"""`chaosgate doctor` (R8.3): what is installed and reachable, and the exact fix for each gap.

A failed run that ends in "connection refused" costs a QA engineer far more
than a list that says *toxiproxy-server is missing: run this*. So each
component is one small :class:`Check` whose probe never raises and answers
with a version (or the problem) and the command that fixes it. The list is
data: tests and other tools can run a subset, or the default list built
against another ``PATH``, and see exactly what a machine without the
component would print.

Python packages are checked with ``importlib.util.find_spec`` and
``importlib.metadata``, never by importing them: importing locust would
monkey-patch the process with gevent (R2.3).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from chaosgate.exitcodes import ExitCode

TOXIPROXY_VERSION = "2.12.0"
BASE_IMAGE = "chaosgate/debian:bookworm"
INSTALL_ALL = "bash ci/install.sh"
PIP_FIX = "bash ci/install.sh  (installs .venv from uv.lock)"
POSTGRES_ROOTS = (Path("/usr/lib/postgresql"),)
_VERSION_RE = re.compile(r"(\d+\.\d+(?:\.\d+)*)")

PYTHON_PACKAGES: tuple[tuple[str, str], ...] = (
    ("pyyaml", "yaml"),
    ("jsonschema", "jsonschema"),
    ("pydantic", "pydantic"),
    ("httpx", "httpx"),
    ("docker", "docker"),
    ("websockets", "websockets"),
    ("locust", "locust"),
    ("schemathesis", "schemathesis"),
    ("hypothesis", "hypothesis"),
    ("pandas", "pandas"),
    ("jinja2", "jinja2"),
    ("plotly", "plotly"),
    ("fastapi", "fastapi"),
    ("uvicorn", "uvicorn"),
    ("asyncpg", "asyncpg"),
    ("redis", "redis"),
)
"""(distribution, import name) of every Python package a run needs."""


@dataclass(frozen=True)
class CheckResult:
    """`detail` is the version when ok, the problem otherwise; `fix` is a command to run."""

    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Check:
    """One component and how to probe it."""

    component: str
    probe: Callable[[], CheckResult]


def _version_output(executable: str, *args: str) -> str:
    """`executable --version` (stdout and stderr: tools disagree on which), with a timeout."""
    completed = subprocess.run(  # noqa: S603 - an absolute path found by shutil.which, no shell
        [executable, *args], capture_output=True, text=True, timeout=15, check=False
    )
    return f"{completed.stdout}\n{completed.stderr}"


def _first_version(text: str, marker: str = "") -> str:
    for line in text.splitlines():
        if marker in line and (match := _VERSION_RE.search(line)):
            return match[1]
    return ""


def binary_check(
    component: str,
    names: Sequence[str],
    fix: str,
    *,
    path: str | None = None,
    want: str | None = None,
    marker: str = "",
) -> Check:
    """A program on PATH (the first of `names` found) that reports a version; `want` pins it."""

    def probe() -> CheckResult:
        found = next((exe for name in names if (exe := shutil.which(name, path=path))), None)
        if found is None:
            return CheckResult(False, f"`{names[0]}` not found on PATH", fix)
        version = _first_version(_version_output(found, "--version"), marker)
        if not version:
            return CheckResult(False, f"{found} does not report a version", fix)
        if want is not None and version != want:
            return CheckResult(False, f"{found} is version {version}, chaosgate needs {want}", fix)
        return CheckResult(True, f"{version}  ({found})")

    return Check(component, probe)


def postgres_check(roots: Sequence[Path] = POSTGRES_ROOTS, *, path: str | None = None) -> Check:
    """PostgreSQL server binaries: Debian keeps them off PATH, in /usr/lib/postgresql/<ver>/bin."""
    fix = "apt-get install -y postgresql"

    def probe() -> CheckResult:
        candidates = sorted(
            (p for root in roots for p in root.glob("*/bin/postgres")),
            key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)] or [0],
        )
        on_path = shutil.which("postgres", path=path)
        server = str(candidates[-1]) if candidates else on_path
        if server is None:
            return CheckResult(False, "no postgres binary in /usr/lib/postgresql/*/bin or on PATH", fix)
        bindir = Path(server).parent
        lacking = [tool for tool in ("initdb", "pg_ctl") if not (bindir / tool).exists()]
        if lacking:
            return CheckResult(False, f"{bindir} has no {', '.join(lacking)}", fix)
        version = _first_version(_version_output(server, "--version"))
        return CheckResult(True, f"{version}  ({bindir})")

    return Check("PostgreSQL server", probe)


def docker_checks(path: str | None = None) -> list[Check]:
    """The engine answers, and the locally built base image is there (no registry to pull from)."""
    start = "bash ci/install.sh  (or: sudo setsid dockerd >/var/lib/chaosgate/dockerd.log 2>&1 </dev/null &)"
    if shutil.which("dockerd", path=path) is None:
        start = "apt-get install -y docker.io, then " + start

    def engine() -> CheckResult:
        try:
            import docker  # noqa: PLC0415 - optional until this check runs

            client = docker.from_env(timeout=5)
            try:
                client.ping()
                return CheckResult(True, f"{client.version().get('Version', '?')}  (engine answering)")
            finally:
                client.close()
        except ImportError:
            return CheckResult(False, "the `docker` Python package is not installed", PIP_FIX)
        except Exception as error:  # noqa: BLE001 - the SDK raises requests and docker errors alike
            return CheckResult(False, f"engine not reachable: {error}", start)

    def image() -> CheckResult:
        try:
            import docker  # noqa: PLC0415

            client = docker.from_env(timeout=5)
            try:
                found = client.images.get(BASE_IMAGE)
                return CheckResult(True, f"{BASE_IMAGE}  ({found.short_id})")
            finally:
                client.close()
        except ImportError:
            return CheckResult(False, "the `docker` Python package is not installed", PIP_FIX)
        except Exception as error:  # noqa: BLE001 - ImageNotFound, engine down: all mean "build it"
            return CheckResult(False, f"{BASE_IMAGE} not available: {error}", INSTALL_ALL)

    return [Check("Docker engine", engine), Check("Docker base image", image)]


def package_check(distribution: str, import_name: str) -> Check:
    def probe() -> CheckResult:
        if importlib.util.find_spec(import_name) is None:
            return CheckResult(False, f"`import {import_name}` would fail", PIP_FIX)
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return CheckResult(False, f"`{import_name}` importable but {distribution} not installed", PIP_FIX)
        return CheckResult(True, version)

    return Check(f"python: {distribution} ({import_name})", probe)


def default_checks(path: str | None = None, postgres_roots: Sequence[Path] = POSTGRES_ROOTS) -> list[Check]:
    """Every component chaosgate needs; `path` replaces $PATH for finding programs (tests use it)."""
    # Without the -X flag the binary calls itself version "git" and fails the version pin.
    go = (
        f"go install -ldflags=-X=github.com/Shopify/toxiproxy/v2.Version={TOXIPROXY_VERSION} "
        f"github.com/Shopify/toxiproxy/v2/cmd/{{0}}@v{TOXIPROXY_VERSION}"
    )
    toxiproxy_fix = (
        f"{INSTALL_ALL}  (or: {go}, then install $(go env GOPATH)/bin/{{0}}"
        " as /usr/local/bin/toxiproxy-{0})"
    )
    return [
        binary_check(
            "Toxiproxy server",
            ["toxiproxy-server"],
            toxiproxy_fix.format("server"),
            path=path,
            want=TOXIPROXY_VERSION,
        ),
        binary_check(
            "Toxiproxy CLI", ["toxiproxy-cli"], toxiproxy_fix.format("cli"), path=path, want=TOXIPROXY_VERSION
        ),
        *docker_checks(path),
        postgres_check(postgres_roots, path=path),
        binary_check("Redis server", ["redis-server"], "apt-get install -y redis-server", path=path),
        binary_check(
            "Chromium",
            ["chromium", "chromium-browser"],
            "apt-get install -y chromium",
            path=path,
            marker="Chromium",
        ),
        *(package_check(dist, module) for dist, module in PYTHON_PACKAGES),
    ]


def _run(check: Check) -> CheckResult:
    try:
        return check.probe()
    except Exception as error:  # noqa: BLE001 - one broken probe must not hide the other components
        return CheckResult(False, f"check failed: {type(error).__name__}: {error}", INSTALL_ALL)


def run_doctor(stream: TextIO, checks: Sequence[Check] | None = None) -> int:
    """Print one line per component; GO when everything is there, INFRASTRUCTURE otherwise."""
    checks = default_checks() if checks is None else checks
    width = max((len(check.component) for check in checks), default=0)
    missing = 0
    stream.write("chaosgate doctor: what is installed and reachable\n")
    for check in checks:
        result = _run(check)
        if result.ok:
            stream.write(f"  ok       {check.component:<{width}}  {result.detail}\n")
            continue
        missing += 1
        fix = result.fix or INSTALL_ALL
        stream.write(f"  missing  {check.component:<{width}}  {result.detail}; fix: {fix}\n")
    if missing:
        stream.write(f"{missing} of {len(checks)} components missing: run each fix above, or {INSTALL_ALL}\n")
        return int(ExitCode.INFRASTRUCTURE)
    stream.write(f"all {len(checks)} components present\n")
    return int(ExitCode.GO)
