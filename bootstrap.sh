#!/usr/bin/env bash
# Set up .venv with a Python >= 3.12 (mosaik 3.7 needs it) and install the project with its test extras.
# Usage: ./bootstrap.sh            (idempotent: re-running only re-installs when pyproject.toml changed)
set -euo pipefail
cd "$(dirname "$0")"

find_python() {
    local candidates=("${PYTHON:-}" python3.13 python3.12 /root/.pyenv/versions/3.12.1/bin/python3.12 python3)
    for dir in /root/.pyenv/versions/3.1[2-9]*/bin; do candidates+=("$dir/python3"); done
    for py in "${candidates[@]}"; do
        [ -n "$py" ] || continue
        command -v "$py" >/dev/null 2>&1 || [ -x "$py" ] || continue
        if "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
            echo "$py"; return 0
        fi
    done
    return 1
}

if [ ! -x .venv/bin/python ]; then
    if ! PY=$(find_python); then
        echo "bootstrap: no Python >= 3.12 found. mosaik 3.7 needs Python 3.12+." >&2
        echo "Install one (e.g. 'pyenv install 3.12' or your distribution's python3.12) or set PYTHON=/path/to/python3.12." >&2
        exit 1
    fi
    echo "bootstrap: creating .venv with $PY ($("$PY" --version))" >&2
    "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
    rm -f .venv/.installed-*; touch "$stamp"
fi
# compile the flow's numba kernels into numba's cache now, so that no run pauses to compile (seconds when cached)
.venv/bin/python -m cosim.runner.warm
