"""Container faults through the Docker engine: the injector, its parameters and the engine wrapper."""

from injectors.docker.client import ContainerGone, DockerEngine, NetworkAttachment, engine_errors
from injectors.docker.injector import DockerInjector, cleanup_all, undo
from injectors.docker.params import DockerParams
from injectors.docker.state import UndoLog, UndoRecord, undo_dir

__all__ = [
    "ContainerGone",
    "DockerEngine",
    "DockerInjector",
    "DockerParams",
    "NetworkAttachment",
    "UndoLog",
    "UndoRecord",
    "cleanup_all",
    "engine_errors",
    "undo",
    "undo_dir",
]
