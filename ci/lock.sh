#!/usr/bin/env bash
# Regenerates the project's two lock files from pyproject.toml; commit them with the change.
#
#   requirements.lock                     every dependency with every extra, hash-pinned: what
#                                         ci/install.sh puts into .venv
#   targets/images/api/requirements.lock  the reference API image's closure for the image's
#                                         Python, at the same versions, hash-pinned
#
# Both come from uv.lock, uv's own resolution, which is not committed: it names the package
# index of every file, and the project names none. Between runs it is kept in .venv-tools/, so
# uv keeps every version it holds that still fits; arguments go to `uv lock`, so
# `bash ci/lock.sh --upgrade-package NAME` moves one on purpose.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
API_DIR="targets/images/api"
# The python3 of the API image's Debian base (targets/reference/images.py checks it): markers
# such as `async-timeout ; python_full_version < '3.11.3'` are decided for it, not for the host.
IMAGE_PYTHON="$(cat "$ROOT/$API_DIR/python-version")"

log() { printf '[lock] %s\n' "$*" >&2; }
# shellcheck source=ci/uv.sh
source "$ROOT/ci/uv.sh"

ensure_uv
cd "$ROOT"
KEPT_LOCK="$UV_TOOLS/uv.lock"
if [ ! -f uv.lock ] && [ -f "$KEPT_LOCK" ]; then
    mv "$KEPT_LOCK" uv.lock
fi
trap 'if [ -f "$ROOT/uv.lock" ]; then mv "$ROOT/uv.lock" "$KEPT_LOCK"; fi' EXIT
log "uv lock"
"$UV" lock --quiet "$@"
log "requirements.lock"
"$UV" export --frozen --all-extras --no-emit-project --format requirements-txt --quiet \
    --output-file requirements.lock
log "$API_DIR/requirements.lock (Python $IMAGE_PYTHON)"
# pip joins the image's requirements (from stdin) because the image installs with the pip
# wheel of its wheelhouse; constrained by requirements.lock, so the versions are the host's.
echo "pip" | "$UV" pip compile "$API_DIR/requirements.txt" - --python-version "$IMAGE_PYTHON" \
    --constraints requirements.lock --generate-hashes --no-header --quiet \
    --output-file "$API_DIR/requirements.lock"
if grep -n -E 'https?://' requirements.lock "$API_DIR/requirements.lock"; then
    log "a lock file names a host (above); the project names none"
    exit 1
fi
log "done: commit requirements.lock and $API_DIR/requirements.lock"
