#!/usr/bin/env bash
# Puts every real component chaosgate drives on a Debian machine, idempotently.
#
# Each step checks first and does nothing when its component is already there,
# so a second run on a ready machine finishes in seconds. Components:
#   - Debian packages: docker.io, postgresql, redis-server, chromium, debootstrap, wrk
#   - Toxiproxy 2.12.0 server and CLI, built with `go install`
#   - the Docker engine (dockerd started when it is not answering)
#   - the project's virtual environment at .venv, installed by uv from uv.lock
#   - a locally built Debian base image (no registry is reachable)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOXIPROXY_VERSION="v2.12.0"
BASE_IMAGE="chaosgate/debian:bookworm"
STATE_DIR="${CHAOSGATE_STATE_DIR:-/var/lib/chaosgate}"
APT_PACKAGES=(docker.io postgresql redis-server chromium debootstrap iptables curl wrk python3-venv)
UV_VERSION="0.13.9"
UV_TOOLS="$ROOT/.venv-tools"

log() { printf '[install] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_apt_packages() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        log "Debian packages present"
        return
    fi
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The Debian postgresql package starts a cluster on 5432; chaosgate runs its
    # own servers on free ports, so the packaged ones are not needed running.
}

install_toxiproxy() {
    if command -v toxiproxy-server >/dev/null && toxiproxy-server --version 2>&1 | grep -q "${TOXIPROXY_VERSION#v}" \
        && command -v toxiproxy-cli >/dev/null; then
        log "Toxiproxy ${TOXIPROXY_VERSION} present"
        return
    fi
    log "building Toxiproxy ${TOXIPROXY_VERSION} with go install"
    local gobin
    gobin="$(mktemp -d)"
    # Without the -X flag the binaries call themselves version "git".
    local ldflags="-X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}"
    GOBIN="$gobin" go install -ldflags="$ldflags" "github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION}"
    GOBIN="$gobin" go install -ldflags="$ldflags" "github.com/Shopify/toxiproxy/v2/cmd/cli@${TOXIPROXY_VERSION}"
    as_root install -m 0755 "$gobin/server" /usr/local/bin/toxiproxy-server
    as_root install -m 0755 "$gobin/cli" /usr/local/bin/toxiproxy-cli
    rm -rf "$gobin"
}

start_dockerd() {
    if docker info >/dev/null 2>&1; then
        log "Docker engine answering"
        return
    fi
    log "starting dockerd"
    as_root mkdir -p "$STATE_DIR"
    # setsid detaches the engine from this script's session so it outlives it.
    as_root setsid /usr/sbin/dockerd >"$STATE_DIR/dockerd.log" 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && { log "Docker engine up"; return; }
        sleep 1
    done
    log "dockerd did not answer within 60 s; its log follows"
    tail -n 30 "$STATE_DIR/dockerd.log" >&2 || true
    exit 3
}

build_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        log "base image $BASE_IMAGE present"
        return
    fi
    log "building base image $BASE_IMAGE with debootstrap (no registry is reachable)"
    local dir
    dir="$(mktemp -d)"
    as_root debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$dir" >/dev/null
    as_root rm -rf "$dir/var/cache/apt/archives"/*.deb "$dir/var/lib/apt/lists"/*
    as_root tar -C "$dir" -c . | docker import - "$BASE_IMAGE" >/dev/null
    as_root rm -rf "$dir"
}

ensure_uv() {
    # uv comes from the package index like any other package, into a bootstrap venv of its
    # own: Debian's system pip refuses to install into the system Python.
    if [ -x "$UV_TOOLS/bin/uv" ] && [ "$("$UV_TOOLS/bin/uv" --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
        return
    fi
    log "installing uv $UV_VERSION into ${UV_TOOLS#"$ROOT"/}"
    [ -x "$UV_TOOLS/bin/python" ] || python3 -m venv "$UV_TOOLS"
    "$UV_TOOLS/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
}

install_python_env() {
    # Exactly the versions of uv.lock, the project editable, every extra. The stamp is the
    # hash of what decides the install, so an unchanged checkout skips uv entirely.
    local venv="$ROOT/.venv"
    local stamp="$venv/.chaosgate-installed"
    local want
    want="$(cat "$ROOT/pyproject.toml" "$ROOT/uv.lock" | sha256sum | cut -d' ' -f1)"
    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "Python environment matches uv.lock"
        return
    fi
    ensure_uv
    log "installing the Python environment in .venv from uv.lock"
    # --locked refuses a uv.lock that no longer matches pyproject.toml (run `uv lock`);
    # the interpreter is the machine's python3, never one downloaded by uv.
    (cd "$ROOT" && UV_PROJECT_ENVIRONMENT="$venv" UV_PYTHON_DOWNLOADS=never \
        "$UV_TOOLS/bin/uv" sync --locked --all-extras --python python3 --quiet)
    echo "$want" >"$stamp"
}

build_reference_images() {
    # The reference stack's container images (no registry: built from Debian packages and
    # wheels on this host). Cached by content; a second run only checks.
    "$ROOT/.venv/bin/python" -m targets.reference.images build >&2
}

install_apt_packages
install_toxiproxy
start_dockerd
build_base_image
install_python_env
build_reference_images
log "ready"
