"""iptables rules that cut groups of containers apart: the backend of the ``partition`` action.

Docker has no partition primitive (``disconnect`` takes a container off a
network for everyone, not for some peers), and the kernel here has iptables
but no netem, so a partition is a set of DROP rules in the host's ``filter``
table, one per direction between two container addresses on a shared network.

Why those rules bite: containers on one bridge network talk through the
bridge, and with ``br_netfilter`` loaded and
``net.bridge.bridge-nf-call-iptables = 1`` (dockerd sets both up when it
manages iptables) bridged packets traverse the FORWARD chain. dockerd makes
FORWARD jump first to ``DOCKER-USER``, the chain it leaves to administrators
and never flushes (Docker 20.10 creates it whenever it manages iptables, as it
does here). The rules are inserted at its top, ahead of dockerd's
``RELATED,ESTABLISHED`` accept, so open connections stall as well as new
ones. Traffic between the host and a container (published ports through
docker-proxy, the gateway address) goes through INPUT and OUTPUT and is not
touched, nor is traffic inside one group.

When ``DOCKER-USER`` is missing (dockerd started with ``--iptables=false``),
the rules go at the top of FORWARD instead. chaosgate does not create
``DOCKER-USER``: a chain is only consulted if FORWARD jumps to it, and adding
that jump beside dockerd's own bookkeeping of it would race the engine.

Every rule carries the comment ``chaosgate:<run>:<n>`` (``n`` numbers the
partitions of one run), so a revert deletes exactly the rules of its own tag
and ``chaosgate cleanup`` finds every rule whose comment starts with
``chaosgate:`` in any chain, with or without an undo record.

The binary is the ``iptables`` on ``PATH``, the one dockerd runs, so both use
the same backend (nf_tables or legacy). Every call waits at most
``LOCK_WAIT`` seconds for the xtables lock (which dockerd also takes) and is
killed after its timeout.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaosgate.exceptions import ComponentMissing, InjectorError

IPTABLES = "iptables"
TAG_PREFIX = "chaosgate:"
CHAINS = ("DOCKER-USER", "FORWARD")
"""Where partition rules go, first that exists wins (see the module docstring)."""
BRIDGE_NF_CALL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
LOCK_WAIT = 5
DEFAULT_TIMEOUT = 15.0
INSTALL = "install it: `apt-get install iptables`"

PARTITION_LOCK = threading.Lock()
"""Held from choosing a tag to inserting its rules, so two partitions of one run get two numbers."""


def run_tag_prefix(run_id: str) -> str:
    """``chaosgate:<run>:``, with the run id reduced to characters safe in a comment."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", run_id)[:120] or "run"
    return f"{TAG_PREFIX}{safe}:"


def drop_rule(source: str, destination: str, tag: str) -> tuple[str, ...]:
    """The arguments of one rule: drop IPv4 packets from `source` to `destination`."""
    return ("-s", f"{source}/32", "-d", f"{destination}/32", "-m", "comment", "--comment", tag, "-j", "DROP")


@dataclass(frozen=True)
class TaggedRule:
    """A rule with a chaosgate comment, as ``iptables -S`` prints it."""

    chain: str
    tag: str
    spec: tuple[str, ...]


class Firewall:
    """The host's iptables ``filter`` table, through the ``iptables`` command (we run as root)."""

    def __init__(
        self, binary: str = IPTABLES, *, timeout: float = DEFAULT_TIMEOUT, chains: Sequence[str] = CHAINS
    ) -> None:
        self.binary = binary
        self.timeout = timeout
        self.chains = tuple(chains)

    def _run(self, *args: str) -> str:
        command = [self.binary, "-w", str(LOCK_WAIT), *args]
        shown = " ".join(args)
        try:
            done = subprocess.run(  # noqa: S603 - argv is built here, not by a shell
                command, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError as error:
            raise ComponentMissing(f"iptables: `{self.binary}` not found; {INSTALL}") from error
        except subprocess.TimeoutExpired as error:
            raise InjectorError(f"iptables {shown}: no answer within {self.timeout:g} s") from error
        except OSError as error:
            raise InjectorError(f"iptables {shown}: cannot run `{self.binary}`: {error}") from error
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
            if "denied" in message.lower() or "must be root" in message:
                raise InjectorError(f"iptables {shown}: needs root (CAP_NET_ADMIN): {message}")
            raise InjectorError(f"iptables {shown} failed: {message}")
        return done.stdout

    def _table(self) -> list[list[str]]:
        """Every line of ``iptables -S`` (the whole filter table), split like a shell would."""
        lines = []
        for line in self._run("-S").splitlines():
            try:
                lines.append(shlex.split(line))
            except ValueError as error:
                raise InjectorError(f"iptables -S printed an unreadable line: {line!r} ({error})") from None
        return lines

    def chain(self) -> str:
        """The chain partition rules go in: ``DOCKER-USER`` where dockerd made it, else FORWARD."""
        existing = {words[1] for words in self._table() if len(words) >= 2 and words[0] in ("-N", "-P")}
        for chain in self.chains:
            if chain in existing:
                return chain
        wanted = ", ".join(self.chains)
        raise ComponentMissing(f"iptables: none of the chains {wanted} exists in the filter table")

    def tagged(self, match: Callable[[str], bool] = lambda tag: True) -> list[TaggedRule]:
        """The rules, in any chain, with a ``chaosgate:`` comment that `match` accepts (default: all)."""
        found = []
        for words in self._table():
            if len(words) < 2 or words[0] != "-A" or "--comment" not in words:
                continue
            at = words.index("--comment") + 1
            tag = words[at] if at < len(words) else ""
            if tag.startswith(TAG_PREFIX) and match(tag):
                found.append(TaggedRule(words[1], tag, tuple(words[2:])))
        return found

    def next_tag(self, run_id: str) -> str:
        """``chaosgate:<run>:<n>`` with the next `n` not yet used by this run's rules on the host."""
        prefix = run_tag_prefix(run_id)
        used = [int(rule.tag[len(prefix):]) for rule in self.tagged(lambda t: t.startswith(prefix))
                if rule.tag[len(prefix):].isdigit()]
        return f"{prefix}{max(used, default=0) + 1}"

    def insert(self, chain: str, spec: Sequence[str]) -> None:
        """Insert the rule at the top of `chain`, ahead of every rule already there."""
        self._run("-I", chain, "1", *spec)

    def remove(self, match: Callable[[str], bool]) -> list[TaggedRule]:
        """Delete every rule whose chaosgate comment `match` accepts; the rules deleted."""
        rules = self.tagged(match)
        for rule in rules:
            self._run("-D", rule.chain, *rule.spec)
        return rules


def require_bridge_filtering(path: Path = BRIDGE_NF_CALL) -> None:
    """Fail unless bridged packets pass through iptables; without it a partition would cut nothing."""
    fix = "`modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1`"
    try:
        value = path.read_text().strip()
    except OSError:
        raise ComponentMissing(
            f"docker: partition needs bridged traffic to pass through iptables, and {path} is missing "
            f"(br_netfilter is not loaded); {fix}"
        ) from None
    if value != "1":
        raise ComponentMissing(
            f"docker: partition needs bridged traffic to pass through iptables, and {path} is {value}; {fix}"
        )
