#!/usr/bin/env bash
# The main job: install everything, check the scenario library, run it against the
# bundled reference implementation, and gate on the verdict.
#
# Writes out/report.html, out/results.json, out/junit.xml, out/summary.md and out/journal.jsonl,
# and keeps the run in .chaosgate-history/ for the report's trends.
# Exit code: 0 Go, 1 No-Go, 2 invalid input, 3 infrastructure, 4 aborted.
#   bash ci/suite.sh            the whole suite
#   bash ci/suite.sh --quick    every duration scaled down (a CI smoke run)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash ci/install.sh
.venv/bin/chaosgate doctor
.venv/bin/chaosgate validate scenarios/
status=0
.venv/bin/chaosgate run scenarios/ --out out "$@" || status=$?
cat out/summary.md
exit "$status"
