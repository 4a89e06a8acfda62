"""Undo records are written one way, owner-only from the moment they exist (no server needed).

They can hold a secret (the app injector's chaos token), so "chmod after
writing" is not good enough: the file must never exist with wider
permissions, whatever the umask. Each test below fails if a writer creates
the file any other way than through :func:`chaosgate.private_files.write_private`.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chaosgate.exceptions import ComponentMissing
from chaosgate.injector import InjectionContext
from chaosgate.ports import LOOPBACK, free_port
from chaosgate.private_files import write_private
from chaosgate.undo import read_records, write_record
from injectors.app import AppInjector, AppParams
from injectors.docker import DockerInjector, DockerParams
from injectors.docker.state import UndoLog as DockerUndoLog
from injectors.docker.state import UndoRecord
from injectors.process import ProcessInjector, ProcessParams
from injectors.process.state import ProcessUndo
from injectors.process.state import UndoLog as ProcessUndoLog
from injectors.websocket import WebSocketInjector, WebSocketParams
from injectors.websocket.state import FaultLog, FaultRecord


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    previous = os.umask(0o022)
    os.umask(previous)

    def set_umask(mask: int) -> None:
        os.umask(mask)

    yield set_umask
    os.umask(previous)


@dataclass
class Creation:
    """What the spies saw: every file created, with its flags and mode, and every rename."""

    opened: list[tuple[str, int, int, int]] = field(default_factory=list)
    """(path, flags, requested mode, mode right after creation)"""
    renamed: list[tuple[str, str, int, str]] = field(default_factory=list)
    """(temporary path, final path, its mode at the rename, its text at the rename)"""


@pytest.fixture
def creation(monkeypatch: pytest.MonkeyPatch, umask: Callable[[int], None]) -> Creation:
    """Spy on os.open and os.replace with a umask of 0, the most permissive there is."""
    umask(0)
    seen = Creation()
    real_open, real_replace = os.open, os.replace

    def spy_open(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, flags, mode, *args, **kwargs)
        if flags & os.O_CREAT:
            seen.opened.append((str(path), flags, mode, stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    def spy_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        source = Path(src)
        seen.renamed.append((str(source), str(dst), mode_of(source), source.read_text()))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "replace", spy_replace)
    return seen


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277])
def test_a_record_is_0600_whatever_the_umask(tmp_path: Path, umask: Callable[[int], None], mask: int) -> None:
    umask(mask)
    path = write_record(tmp_path / "records", "test", "run/1", "pause-abc", '{"secret": "s3"}')
    assert mode_of(path) == 0o600
    assert path.read_text() == '{"secret": "s3"}'
    assert path.name.endswith("-run-1-pause-abc.json")


def test_the_file_is_created_0600_and_renamed_only_once_complete(tmp_path: Path, creation: Creation) -> None:
    final = write_private(tmp_path / "record.json", '{"token": "t0k3n"}')

    [(created, flags, requested, initial)] = creation.opened
    assert flags & os.O_CREAT
    assert flags & os.O_EXCL  # a fresh file, never one that someone else made
    assert requested == 0o600
    assert initial == 0o600  # with umask 0, any wider request would show here
    assert created != str(final)  # the final name appears only through the rename
    [(source, target, mode_at_rename, text_at_rename)] = creation.renamed
    assert (source, target) == (created, str(final))
    assert mode_at_rename == 0o600
    assert text_at_rename == '{"token": "t0k3n"}'
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]  # no temporary file left behind


def test_rewriting_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    write_private(path, "a much longer first version")
    write_private(path, "short")
    assert path.read_text() == "short"
    assert mode_of(path) == 0o600


def _docker(root: Path) -> Path:
    return DockerUndoLog(root / "docker").write(UndoRecord("r1", "pause", "c0ffee", "web"))


def _process(root: Path) -> Path:
    undo = ProcessUndo("r1", "stop", "web", str(root / "web.json"), 4242, 4242, "SIGSTOP")
    return ProcessUndoLog(root / "process").write(undo)


def _websocket(root: Path) -> Path:
    return FaultLog(root / "websocket").write(FaultRecord("r1", "http://127.0.0.1:1", "chaosgate_r1_1"))


WRITERS: dict[str, Callable[[Path], Path]] = {"docker": _docker, "process": _process, "websocket": _websocket}


@pytest.mark.parametrize("injector", sorted(WRITERS))
def test_every_injector_writes_its_records_the_one_way(
    tmp_path: Path, creation: Creation, injector: str
) -> None:
    path = WRITERS[injector](tmp_path)
    assert mode_of(path) == 0o600
    assert [(s, t, m) for s, t, m, _ in creation.renamed] == [(creation.opened[0][0], str(path), 0o600)]
    assert creation.opened[0][2:] == (0o600, 0o600)


def test_the_app_record_with_its_token_is_never_readable_by_others(
    tmp_path: Path, creation: Creation
) -> None:
    """The record is written before the endpoint is called; this endpoint does not answer."""
    closed = f"http://{LOOPBACK}:{free_port()}/api/v1/chaos"
    resources = {"chaos_url": closed, "chaos_token": "t0k3n"}
    context = InjectionContext("r1", state_dir=tmp_path, resources=resources)
    with pytest.raises(ComponentMissing):
        AppInjector(AppParams(fault="agent_busy"), context).inject()

    [(source, target, mode_at_rename, text)] = creation.renamed
    assert Path(target).parent == tmp_path / "app"
    assert mode_at_rename == 0o600
    assert json.loads(text)["token"] == "t0k3n"
    [(created, _, requested, initial)] = creation.opened
    assert created == source
    assert (requested, initial) == (0o600, 0o600)
    assert list((tmp_path / "app").glob("*.json")) == []  # nothing was switched on: nothing to undo


def test_records_read_back_newest_first_and_by_run(tmp_path: Path) -> None:
    log = FaultLog(tmp_path)
    first = log.write(FaultRecord("a", "http://127.0.0.1:1", "chaosgate_a_1"))
    second = log.write(FaultRecord("b", "http://127.0.0.1:1", "chaosgate_b_1"))
    assert [path for path, _ in log.records()] == [second, first]
    assert [record.fault for _, record in log.records("a")] == ["chaosgate_a_1"]
    assert read_records(tmp_path / "missing", "x", str, str) == []


def test_every_injector_keeps_its_records_under_the_contexts_state_dir(tmp_path: Path) -> None:
    context = InjectionContext("r1", state_dir=tmp_path / "root")
    docker = DockerInjector(DockerParams.model_validate({"container": "web", "action": "pause"}), context)
    process = ProcessInjector(ProcessParams.model_validate({"process": "web", "action": "stop"}), context)
    params = WebSocketParams.model_validate({"proxy": "events", "fault": {"kind": "drop", "every": 2}})
    websocket = WebSocketInjector(params, context)
    assert docker.undo_log.directory == tmp_path / "root" / "docker"
    assert process.undo_log.directory == tmp_path / "root" / "process"
    assert websocket.fault_log.directory == tmp_path / "root" / "websocket"


def test_a_context_without_a_state_dir_uses_the_standard_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSGATE_STATE_DIR", str(tmp_path / "env"))
    assert InjectionContext("r1").state_dir == tmp_path / "env"
