#!/usr/bin/env bash
# The main job: install everything, check the scenario library, report.
#
# Today it validates every scenario in scenarios/ against the format; as the
# engine lands it runs the whole suite against the bundled reference
# implementation and writes the HTML report into out/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash ci/install.sh
.venv/bin/chaosgate doctor
.venv/bin/chaosgate validate scenarios/
