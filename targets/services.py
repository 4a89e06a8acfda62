"""Local PostgreSQL, Redis and PRISM API servers for the process runtime and for tests.

Each server lives in a fresh temporary directory on a free loopback port and
is run through :class:`chaosgate.processes.ManagedProcess`, so it is always
stopped and its files removed, and a failed start quotes the server's log.

PostgreSQL refuses to run as root. When chaosgate runs as root (containers,
CI) the cluster is created and started as the ``postgres`` OS user through
``setpriv``, in a data directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from chaosgate.exceptions import ComponentMissing, TargetError
from chaosgate.ports import LOOPBACK, free_port
from chaosgate.processes import ManagedProcess
from reference_impl.settings import KEEP_ALIVE_SECONDS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_OS_USER = "postgres"


def postgres_bin_dir() -> Path:
    """Directory holding ``initdb`` and ``postgres``: $PG_BIN, Debian's newest version, or $PATH."""
    override = os.environ.get("PG_BIN")
    if override:
        return Path(override)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ComponentMissing("PostgreSQL server binaries not found (apt-get install postgresql, or set PG_BIN)")


def _run(argv: Sequence[str], what: str, timeout: float = 120.0) -> None:
    """Run a set-up command to completion or raise TargetError with its output."""
    try:
        done = subprocess.run(  # noqa: S603 - argv is built here, not by a shell
            list(argv), capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise ComponentMissing(f"{what}: `{argv[0]}` is not installed") from None
    except subprocess.TimeoutExpired:
        raise TargetError(f"{what} did not finish within {timeout:.0f}s") from None
    if done.returncode != 0:
        raise TargetError(f"{what} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")


class PostgresServer:
    """A throw-away PostgreSQL cluster with one database, trust auth on 127.0.0.1."""

    def __init__(
        self, log_dir: Path, *, port: int | None = None, database: str = "prism", user: str = "prism"
    ) -> None:
        self.log_dir = log_dir
        self.port = port or free_port()
        self.database = database
        self.user = user
        self._root: Path | None = None
        self._process: ManagedProcess | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{self.database}"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    def _as_postgres_user(self) -> list[str]:
        """argv prefix that drops root to the postgres OS user (empty when not root)."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam(POSTGRES_OS_USER)
        except KeyError:
            raise ComponentMissing(
                "running as root needs the `postgres` OS user (apt-get install postgresql)"
            ) from None
        return [
            "setpriv",
            f"--reuid={POSTGRES_OS_USER}",
            f"--regid={POSTGRES_OS_USER}",
            "--init-groups",
            "--",
        ]

    def start(self, timeout: float = 60.0) -> Self:
        """initdb, start on the port, create the database; clean up everything if a step fails."""
        bin_dir = postgres_bin_dir()
        prefix = self._as_postgres_user()
        self._root = Path(tempfile.mkdtemp(prefix="chaosgate-pg-"))
        data, sockets = self._root / "data", self._root / "sockets"
        sockets.mkdir()
        if prefix:
            account = pwd.getpwnam(POSTGRES_OS_USER)
            for path in (self._root, sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        try:
            _run(
                [
                    *prefix,
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                "initdb",
            )
            self._process = ManagedProcess(
                "postgres",
                [
                    *prefix,
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(sockets),
                    "-c",
                    f"listen_addresses={LOOPBACK}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=64MB",
                ],
                port=self.port,
                log_dir=self.log_dir,
                startup_timeout=timeout,
            ).start()
            self._create_database(bin_dir, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _create_database(self, bin_dir: Path, timeout: float) -> None:
        """``createdb``, retried while the server still says it is starting up."""
        deadline = time.monotonic() + timeout
        argv = [
            str(bin_dir / "createdb"),
            "-h",
            LOOPBACK,
            "-p",
            str(self.port),
            "-U",
            self.user,
            self.database,
        ]
        while True:
            try:
                _run(argv, "createdb", timeout=30.0)
                return
            except TargetError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: roll back open sessions, no waiting for clients), then remove the files."""
        process, self._process = self._process, None
        if process is not None:
            process.signal(signal.SIGINT)
            deadline = time.monotonic() + timeout
            while process.running() and time.monotonic() < deadline:
                time.sleep(0.05)
            process.stop()
        root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RedisServer:
    """A throw-away Redis on 127.0.0.1; ``persistent`` keeps an append-only file across its restarts."""

    def __init__(self, log_dir: Path, *, port: int | None = None, persistent: bool = False) -> None:
        self.log_dir = log_dir
        self.port = port or free_port()
        self.persistent = persistent
        self._root: Path | None = None
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    def start(self, timeout: float = 30.0) -> Self:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ComponentMissing("redis-server is not installed (apt-get install redis-server)")
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="chaosgate-redis-"))
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec"]
            if self.persistent
            else ["--appendonly", "no"]
        )
        self._process = ManagedProcess(
            "redis",
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--dir",
                str(self._root),
                "--save",
                "",
                *persistence,
                "--protected-mode",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                "",
            ],
            port=self.port,
            log_dir=self.log_dir,
            startup_timeout=timeout,
        )
        try:
            self._process.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()
        root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def api_environment(
    database_url: str, redis_url: str, data_dir: Path, *, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The PRISM_* variables for an API process; ``extra`` overrides or adds (e.g. timeouts)."""
    env = {
        "PRISM_DATABASE_URL": database_url,
        "PRISM_REDIS_URL": redis_url,
        "PRISM_DATA_DIR": str(data_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")])),
    }
    env.update(extra or {})
    return env


def api_process(
    log_dir: Path,
    env: Mapping[str, str],
    *,
    port: int | None = None,
    name: str = "prism-api",
    startup_timeout: float = 60.0,
) -> ManagedProcess:
    """An unstarted uvicorn process serving the PRISM API on 127.0.0.1 (one worker)."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "reference_impl.app:create_app",
        "--factory",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-keep-alive",
        str(KEEP_ALIVE_SECONDS),
        "--timeout-graceful-shutdown",
        "5",
    ]
    return ManagedProcess(
        name, argv, port=port, log_dir=log_dir, env=env, cwd=PROJECT_ROOT, startup_timeout=startup_timeout
    )
