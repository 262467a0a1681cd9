#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's chromium and haproxy when missing) and run
# the whole suite: ruff, then pytest (unit, AppTest, slow training and browser tests). `.ci/run`
# calls this.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not browser"`.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r requirements-dev.txt

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# tests/test_serve.py runs scripts/serve.sh, which puts Debian's haproxy in front of the app.
if ! command -v haproxy >/dev/null 2>&1; then
  echo "installing Debian haproxy for the load-balancer test"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq haproxy >/dev/null
fi

python3 -m ruff check .
python3 -m ruff format --check .
python3 -m pytest "$@"
