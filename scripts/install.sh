#!/usr/bin/env bash
# Creates .venv (Python 3.11 or newer) and installs the project with its development tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      "$candidate" -m venv .venv
      break
    fi
  done
fi
[ -x .venv/bin/python ] || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
