# shellcheck shell=bash
# scripts/lib/tools.sh: installing the project's tools into the project: the Python virtualenv
# ($VENV, pinned by scripts/constraints-test.txt), node_modules (from package-lock.json) and
# Debian packages. Each step is a quick no-op when what it installs is present and current.
# Run from the repository root; needs `log MESSAGE` and VENV from the sourcing script.

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# venv_ready: $VENV exists and its python runs (recreated when it does not, e.g. after the
# python it was made from changed).
venv_ready() {
    if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        log "tools: $VENV is broken (its python changed?); recreating it"
        rm -rf "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "tools: creating $VENV"
        python3 -m venv "$VENV"
    fi
}

# venv_install STAMP REQUIREMENTS...: pip install the requirements files into $VENV under
# scripts/constraints-test.txt, unless $VENV/STAMP records that this python and these files
# were installed already.
venv_install() {
    local stamp="$VENV/$1" want args=() r
    shift
    venv_ready
    want="$( { python3 --version; cat "$@" scripts/constraints-test.txt; } | sha256sum | cut -d' ' -f1)"
    if [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
        log "tools: .venv up to date"
        return 0
    fi
    for r in "$@"; do args+=(-r "$r"); done
    log "tools: pip install ${args[*]} -c scripts/constraints-test.txt"
    "$VENV/bin/pip" install --disable-pip-version-check --no-input -q \
        "${args[@]}" -c scripts/constraints-test.txt
    echo "$want" >"$stamp"
}

# npm_install BIN: `npm ci` from the committed lock file when node_modules/.bin/BIN is missing
# or package.json / package-lock.json changed since the last install.
npm_install() {
    local lockhash
    lockhash="$(hash_of package.json package-lock.json)"
    if [[ ! -x "node_modules/.bin/$1" || "$(cat node_modules/.scripts-test.stamp 2>/dev/null)" != "$lockhash" ]]; then
        log "tools: npm ci"
        npm ci --no-audit --no-fund --include=dev --loglevel=error
        echo "$lockhash" >node_modules/.scripts-test.stamp
    else
        log "tools: node_modules up to date"
    fi
}

# apt_install PACKAGE...: apt-get install them (as root, else through `sudo -n`), with an
# `apt-get update` and a second try when the first fails.
apt_install() {
    local sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo -n)
    local apt=(${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=300 -y -q)
    log "tools: apt-get install $*"
    if ! "${apt[@]}" install --no-install-recommends "$@"; then
        log "tools: apt-get update, then again"
        "${apt[@]}" update
        "${apt[@]}" install --no-install-recommends "$@"
    fi
}
