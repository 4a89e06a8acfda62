"""Report writers: results.json, junit.xml, summary.md and report.html.

Each writer is a handler of the engine's events and imports only chaosgate's
result types, never an injector.
"""
