# uv at one version in .venv-tools/, for ci/install.sh and ci/lock.sh (sourced: both need the
# same uv, and the lock files are only reproducible with the uv that wrote them).
# Needs ROOT and a log function from the sourcing script.

UV_VERSION="0.13.9"
UV_TOOLS="$ROOT/.venv-tools"
UV="$UV_TOOLS/bin/uv"

ensure_uv() {
    # uv comes from the package index like any other package, into a bootstrap venv of its
    # own: Debian's system pip refuses to install into the system Python.
    if [ -x "$UV" ] && [ "$("$UV" --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
        return
    fi
    log "installing uv $UV_VERSION into ${UV_TOOLS#"$ROOT"/}"
    [ -x "$UV_TOOLS/bin/python" ] || python3 -m venv "$UV_TOOLS"
    "$UV_TOOLS/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
}
