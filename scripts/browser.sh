#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (Playwright drives it by path and
# never downloads a browser of its own). Does nothing when /usr/bin/chromium is already there.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium
fi
