#!/usr/bin/env bash
# The test suite: installs what it needs, then lint, types, and tests.
#
#   bash ci/test.sh           the default suite (well under 20 minutes on 2 cores)
#   bash ci/test.sh --slow    also the long suites marked `slow`
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash ci/install.sh

# pyproject's addopts deselect `slow`; a later -m on the command line wins.
MARKER_ARGS=()
if [ "${1:-}" = "--slow" ]; then
    MARKER_ARGS=(-m "")
    shift
fi

echo "== ruff"
.venv/bin/ruff check .
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
set +e
.venv/bin/pytest "${MARKER_ARGS[@]}" "$@"
status=$?
set -e
# pytest exits 5 when it collected nothing: that is a broken suite, not a pass.
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit "$status"
