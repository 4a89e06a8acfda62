"""The runner: from a loaded scenario to faults injected, samples taken and events emitted."""
