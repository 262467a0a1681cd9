#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's chromium and haproxy when missing) and run
# the whole suite: ruff, then pytest (unit, AppTest, slow training and browser tests). `.ci/run`
# calls this.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not browser"`.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r requirements-dev.txt

# shellcheck source=scripts/lib/debian.sh
source scripts/lib/debian.sh
ensure_debian_command chromium chromium "for the browser tests"
# tests/test_serve.py runs scripts/serve.sh, which puts Debian's haproxy in front of the app.
ensure_debian_command haproxy haproxy "for the load-balancer test"

python3 -m ruff check .
python3 -m ruff format --check .
python3 -m pytest "$@"
