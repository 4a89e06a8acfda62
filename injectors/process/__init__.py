"""Faults on local server processes: SIGSTOP/SIGCONT, kill and restart, terminate and restart."""

from injectors.process.injector import ProcessInjector, cleanup_all, record_path, undo
from injectors.process.params import ProcessParams
from injectors.process.state import ProcessUndo, UndoLog, undo_dir

__all__ = [
    "ProcessInjector",
    "ProcessParams",
    "ProcessUndo",
    "UndoLog",
    "cleanup_all",
    "record_path",
    "undo",
    "undo_dir",
]
