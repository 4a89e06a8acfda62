"""The `reference` target kind: the bundled PRISM stack as local processes or Docker containers.

Modules: ``target`` (the kind and its spec), ``stack`` (the state record that
lets any process tear a stack down), ``process_runtime`` and
``docker_runtime`` (the two ways to run it), ``common`` (resource names,
readiness), ``images`` with ``rootfs`` and ``wheels`` (the locally built
images: ``python -m targets.reference.images build``).
"""

from targets.reference.target import ReferenceSpec, ReferenceTarget

__all__ = ["ReferenceSpec", "ReferenceTarget"]
