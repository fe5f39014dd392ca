#!/usr/bin/env bash
# Creates .venv (Python 3.11 or newer) and installs the project with its development tools and the
# embedded servers (`oee up` with no REDIS_URL/DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  if python=$(scripts/find-python); then
    "$python" -m venv .venv
  fi
fi
[ -x .venv/bin/python ] || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,embedded]"
