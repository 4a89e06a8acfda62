"""`chaosgate target up|down|status NAME`: leave a target running between runs, then remove it.

    chaosgate target up reference [--runtime process|docker] [--json]
    chaosgate run scenarios/ ...          # scenarios with `target: reference` attach to it
    chaosgate target down reference

The engine knows targets only through :func:`chaosgate.target.load_target`;
a kind that can be left running implements :class:`Detachable` (``detach``
after ``up``; ``stop_detached`` for ``down``). ``up`` prints the base URL,
the Toxiproxy server, the proxies and every resource (secrets shown only
with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from pydantic import ValidationError

from chaosgate.exceptions import UsageError
from chaosgate.exitcodes import ExitCode
from chaosgate.state import default_state_dir
from chaosgate.target import Deployment, Target, load_target

SECRET_MARKERS = ("token", "secret", "password")


@runtime_checkable
class Detachable(Protocol):
    def detach(self) -> None:
        """Leave what `up` started running after this process exits."""

    def stop_detached(self) -> list[str]:
        """Remove what an earlier `detach` left running; one line per removal."""


def _target(args: argparse.Namespace) -> Target:
    state_dir = default_state_dir(args.state_dir)
    target = load_target(args.name, run_id=f"cli-{uuid.uuid4().hex[:8]}", state_dir=state_dir)
    runtime = getattr(args, "runtime", None)
    if runtime:
        spec_type = type(target.spec)
        if "runtime" not in spec_type.model_fields:
            raise UsageError(f"target `{args.name}` (kind {target.kind}) has no runtime to choose")
        try:
            target.spec = spec_type.model_validate({**target.spec.model_dump(), "runtime": runtime})
        except ValidationError as error:
            raise UsageError(f"--runtime {runtime}: {error.errors()[0]['msg']}") from None
    if not isinstance(target, Detachable):
        raise UsageError(f"targets of kind `{target.kind}` cannot be left running (`{args.name}`)")
    return target


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM while starting unwinds like Ctrl-C, so a half-started stack is removed."""

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _describe(deployment: Deployment) -> list[str]:
    lines = [
        f"{deployment.name} is up",
        f"  base URL:  {deployment.base_url}",
    ]
    if deployment.openapi:
        lines.append(f"  openapi:   {deployment.openapi}")
    proxies = {k.split(":", 1)[1]: v for k, v in deployment.resources.items() if k.startswith("proxy:")}
    if proxies:
        lines.append(
            "  proxies:   " + ", ".join(f"{name} → {proxy}" for name, proxy in sorted(proxies.items()))
        )
    lines.append("  resources:")
    lines += [f"    {key}: {_shown(key, value)}" for key, value in sorted(deployment.resources.items())]
    return lines


def _shown(key: str, value: str) -> str:
    return "****** (see --json)" if any(marker in key for marker in SECRET_MARKERS) else value


def _as_json(deployment: Deployment) -> str:
    data: Mapping[str, object] = {
        "name": deployment.name,
        "base_url": deployment.base_url,
        "openapi": deployment.openapi,
        "resources": dict(deployment.resources),
    }
    return json.dumps(data, indent=2, sort_keys=True)


def cmd_target(args: argparse.Namespace) -> int:
    target = _target(args)
    assert isinstance(target, Detachable)
    if args.action == "up":
        with _sigterm_unwinds():
            deployment = target.up()
            target.detach()
        sys.stdout.write((_as_json(deployment) if args.json else "\n".join(_describe(deployment))) + "\n")
        return int(ExitCode.GO)
    lines = target.stop_detached()
    sys.stdout.write(("\n".join(lines) if lines else f"{args.name}: nothing running") + "\n")
    return int(ExitCode.GO)
