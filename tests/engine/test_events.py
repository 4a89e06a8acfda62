"""The event types reports rely on, and the bus that fault threads and the event loop share."""

from __future__ import annotations

import json
import threading
import time
import typing
from pathlib import Path

from chaosgate.engine.events import Event, EventBus, Message, RunFinished, ScenarioFinished
from chaosgate.engine.journal import Journal
from chaosgate.results import RunResult, ScenarioResult


def test_finish_events_carry_typed_results() -> None:
    assert typing.get_type_hints(ScenarioFinished)["result"] is ScenarioResult
    assert typing.get_type_hints(RunFinished)["result"] is RunResult


THREADS = 16
PER_THREAD = 200


class OverlapDetector:
    """A handler that notices if it is ever entered by two threads at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.overlaps = 0
        self.seen = 0

    def handle(self, event: Event) -> None:
        self.inside += 1
        if self.inside > 1:
            self.overlaps += 1
        time.sleep(0)  # give another thread the chance to enter
        self.seen += 1
        self.inside -= 1

    def close(self) -> None:
        pass


def _emit_from_threads(emit: typing.Callable[[Event], None]) -> None:
    """Every thread starts at the same moment and emits PER_THREAD long messages."""
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        start.wait()
        for i in range(PER_THREAD):
            emit(Message(f"thread {n} message {i} " + "x" * 2000, scenario_id=f"s{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)


def _journal_messages(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line whole, or this raises
    return [(r["scenario_id"], r["text"].split(" x")[0]) for r in records]


def test_bus_hands_events_from_many_threads_one_at_a_time(tmp_path: Path) -> None:
    detector = OverlapDetector()
    journal = Journal(tmp_path / "journal.jsonl")
    bus = EventBus([detector, journal])
    _emit_from_threads(bus.emit)
    bus.close()

    assert bus.failures == []
    assert detector.overlaps == 0
    assert detector.seen == THREADS * PER_THREAD
    messages = _journal_messages(tmp_path / "journal.jsonl")
    expected = {(f"s{n}", f"thread {n} message {i}") for n in range(THREADS) for i in range(PER_THREAD)}
    assert len(messages) == len(expected)
    assert set(messages) == expected


def test_journal_fed_directly_from_many_threads_writes_whole_lines(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    _emit_from_threads(journal.handle)
    journal.close()

    assert len(set(_journal_messages(tmp_path / "journal.jsonl"))) == THREADS * PER_THREAD


def test_events_after_close_are_dropped_not_failed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    bus = EventBus([journal])
    bus.emit(Message("before"))
    bus.close()
    bus.emit(Message("after"))  # a fault thread that reports late

    assert bus.failures == []
    assert [json.loads(line)["text"] for line in (tmp_path / "journal.jsonl").read_text().splitlines()] == [
        "before"
    ]
