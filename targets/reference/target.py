"""``kind: reference``: the bundled PRISM stack, started as local processes or Docker containers.

A target file picks the runtime (``targets/reference.yaml``: processes,
``targets/reference-docker.yaml``: containers). ``up()`` attaches to a stack
that ``chaosgate target up`` left running under the same name (and then
``down()`` leaves it running); otherwise it starts one, owned by this
process, that ``down()`` removes. See :mod:`targets.reference.stack` for the
record that lets another process (``chaosgate target down``, ``chaosgate
cleanup``) remove it.

Resources of the deployment (both runtimes unless noted)::

    proxy:postgres|redis|api      Toxiproxy proxy names
    process:api|postgres|redis    process records, for the `process` injector (process runtime)
    container:postgres|redis|api|toxiproxy   container names, for the `docker` injector (docker runtime)
    wsproxy:events, ws_url:events WebSocket frame proxy: control URL, client URL of /api/v1/events
    chaos_url, chaos_token        the API's chaos control endpoint (direct, not through a proxy)
    api_direct_url, postgres_dsn, redis_url   the servers themselves, bypassing Toxiproxy
    runtime, stack                which runtime, which stack id
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, Protocol

from pydantic import Field, field_validator

from chaosgate.scenario.model import Probe
from chaosgate.target import Deployment, Target, TargetSpec
from targets.reference.stack import StackRecord, stacks_lock

RESERVED_ENV = frozenset(
    {
        "PRISM_DATABASE_URL",
        "PRISM_REDIS_URL",
        "PRISM_HOST",
        "PRISM_PORT",
        "PRISM_DATA_DIR",
        "PRISM_CHAOS_ENABLED",
        "PRISM_CHAOS_TOKEN",
    }
)


class _Stack(Protocol):
    def start(self) -> Deployment: ...

    def stop(self) -> None: ...


def _baseline() -> list[Probe]:
    """The stack is back to its baseline when it reports healthy and can issue a token.

    Health alone is not enough: after a database fault the health endpoint may
    recover a moment before the token store does, and every scenario's setup
    starts by asking for a token.
    """
    return [
        Probe.model_validate(
            {"name": "health", "request": {"path": "/api/v1/system/health"}, "expect": {"status": 200}}
        ),
        Probe.model_validate(
            {
                "name": "token",
                "request": {
                    "method": "POST",
                    "path": "/api/v1/auth/token",
                    "json": {"client_id": "viewer", "client_secret": "viewer-dev-secret"},
                },
                "expect": {"status": 200},
            }
        ),
    ]


class ReferenceSpec(TargetSpec):
    """The PRISM reference stack: PostgreSQL, Redis, Toxiproxy, the API and a WebSocket frame proxy."""

    kind: str = "reference"
    readiness: list[Probe] = Field(
        default_factory=_baseline,
        description="Default: health answers 200 and a token can be issued.",
    )
    runtime: Literal["process", "docker"] = Field(
        default="process", description="`process`: local servers on free ports; `docker`: containers."
    )
    api_env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra PRISM_* settings of the API (timeouts, breakers); see reference_impl/README.md.",
    )
    startup_timeout: float = Field(
        default=90.0, gt=0, le=900, description="Seconds for the API to become healthy."
    )
    build_images: bool = Field(default=True, description="docker: build missing images before starting.")

    @field_validator("api_env")
    @classmethod
    def _prism_only(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.startswith("PRISM_"):
                raise ValueError(f"`{key}`: only PRISM_* settings of the API can be set here")
            if key in RESERVED_ENV:
                raise ValueError(
                    f"`{key}` is set by the stack itself (it wires the proxies and the chaos token)"
                )
        return value


class ReferenceTarget(Target):
    kind: ClassVar[str] = "reference"
    Spec: ClassVar[type[TargetSpec]] = ReferenceSpec
    dependency_proxies: ClassVar[tuple[str, ...]] = ("postgres", "redis")

    def __init__(self, spec: TargetSpec, *, run_id: str, state_dir: Path) -> None:
        super().__init__(spec, run_id=run_id, state_dir=state_dir)
        self._record: StackRecord | None = None
        self._attached: StackRecord | None = None
        self._stack: _Stack | None = None

    @property
    def reference_spec(self) -> ReferenceSpec:
        assert isinstance(self.spec, ReferenceSpec)
        return self.spec

    # -- the Target interface --------------------------------------------------------------------

    def up(self) -> Deployment:
        current = self._record or self._attached
        if current is not None and (deployment := current.deployment()) is not None:
            return deployment
        with stacks_lock(self.state_dir):
            for record in self._detached_records():
                deployment = record.deployment()
                if deployment is not None and _alive(record):
                    self._attached = record
                    return deployment
                _teardown(record)  # a detached stack that died: clear it before starting anew
            return self._start()

    def down(self) -> None:
        """Remove the stack this object started; leave an attached (detached) stack running."""
        self._attached = None
        record, self._record = self._record, None
        if record is None:
            return
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.stop()
        _teardown(record)

    @classmethod
    def cleanup(cls, state_dir: Path) -> list[str]:
        """Remove every stack whose owner is gone, and detached ones (R2.2: nothing left behind)."""
        lines = []
        with stacks_lock(state_dir):
            for record in StackRecord.all(state_dir):
                if record.owner_alive():
                    continue
                lines += _teardown(record) or [f"reference {record.stack_id}: removed its record"]
        return lines

    # -- what `chaosgate target up|down` needs ----------------------------------------------------

    def detach(self) -> None:
        """Leave the stack running after this process exits; runs attach to it."""
        record = self._record or self._attached
        if record is not None:
            record.detach()
        self._record = self._attached = None
        self._stack = None

    def stop_detached(self) -> list[str]:
        """Remove the detached stack(s) of this target name, and any whose owner died."""
        lines = []
        with stacks_lock(self.state_dir):
            for record in StackRecord.all(self.state_dir):
                if record.data.get("target") == self.spec.name and not record.owner_alive():
                    lines += _teardown(record) or [f"reference {record.stack_id}: removed its record"]
        return lines

    # -- internals -------------------------------------------------------------------------------

    def _detached_records(self) -> list[StackRecord]:
        return [
            r
            for r in StackRecord.all(self.state_dir)
            if r.detached and r.data.get("target") == self.spec.name
        ]

    def _start(self) -> Deployment:
        from targets.reference.docker_runtime import DockerStack  # noqa: PLC0415 - loads the docker SDK
        from targets.reference.process_runtime import ProcessStack  # noqa: PLC0415

        spec = self.reference_spec
        record = StackRecord.create(self.state_dir, spec.name, spec.runtime)
        self._record = record
        stack: _Stack
        if spec.runtime == "docker":
            stack = DockerStack(
                record, spec.name, dict(spec.api_env), spec.startup_timeout, spec.build_images
            )
        else:
            stack = ProcessStack(record, spec.name, spec.api_env, spec.startup_timeout)
        self._stack = stack
        try:
            deployment = stack.start()
            record.set_deployment(deployment)
        except BaseException:
            self.down()
            raise
        return deployment


def _alive(record: StackRecord) -> bool:
    if record.data.get("runtime") == "docker":
        from targets.reference.docker_runtime import containers_alive  # noqa: PLC0415

        return containers_alive(record) and record.processes_alive()
    return record.processes_alive()


def _teardown(record: StackRecord) -> list[str]:
    """Stop and remove everything a record names (any process may call this); remove the record."""
    lines = record.stop_processes()
    if record.data.get("containers") or record.data.get("network"):
        from targets.reference.docker_runtime import remove_containers  # noqa: PLC0415

        lines += remove_containers(record)
    record.remove_files()
    return lines
