"""PRISM agent-management API: the reference system under test bundled with chaosgate.

A real FastAPI service backed by PostgreSQL (primary store) and Redis (event
log, cache, metrics history). Both are reached through Toxiproxy in tests so
that database and cache faults are injectable, and the service shows the
resilient behaviour that chaosgate's scenario library expects: circuit
breakers, stale-cache fallback, a durable offline write queue, a common error
envelope and a capability matrix in its health report.

Start it with ``python -m reference_impl`` or
``uvicorn reference_impl.app:create_app --factory``; see
:mod:`reference_impl.settings` for the environment variables.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
