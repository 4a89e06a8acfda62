"""chaosgate: chaos-engineering and API-resilience tests that gate a release."""

__version__ = "0.1.0"
