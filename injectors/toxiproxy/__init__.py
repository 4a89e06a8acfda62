"""Network faults through Toxiproxy: the injector, its parameter models and chaosgate's REST client."""

from injectors.toxiproxy.client import Proxy, Toxic, ToxiproxyClient, ToxiproxyConflict, ToxiproxyNotFound
from injectors.toxiproxy.injector import (
    DEFAULT_URL,
    SERVER_RESOURCE,
    CleanupResult,
    ToxiproxyInjector,
    ToxiproxyParams,
    cleanup_all,
    server_url,
)
from injectors.toxiproxy.toxics import TOXIC_MODELS, ToxicSpec

__all__ = [
    "DEFAULT_URL",
    "SERVER_RESOURCE",
    "TOXIC_MODELS",
    "CleanupResult",
    "Proxy",
    "Toxic",
    "ToxicSpec",
    "ToxiproxyClient",
    "ToxiproxyConflict",
    "ToxiproxyInjector",
    "ToxiproxyNotFound",
    "ToxiproxyParams",
    "cleanup_all",
    "server_url",
]
