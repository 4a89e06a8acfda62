"""Application-level faults through a service's own chaos control endpoint (R3.5)."""

from injectors.app.injector import AppInjector, AppParams

__all__ = ["AppInjector", "AppParams"]
