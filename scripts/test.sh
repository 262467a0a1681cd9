#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's chromium and haproxy when missing) and run
# the whole suite: ruff, then pytest (unit, AppTest, slow training and browser tests). `.ci/run`
# calls this.
# Extra arguments go to one plain pytest run instead, e.g. `bash scripts/test.sh -m "not browser"`.
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
if [ "$#" -gt 0 ]; then
  exec python3 -m pytest "$@"
fi
# The whole suite in two passes. Unit and AppTest tests are CPU-bound and independent: two xdist
# workers (one per core) halve their wall time. Browser tests run one at a time afterwards, with
# the machine to themselves: each already keeps both cores busy (a server and chromium), and
# several measure a live server (a closed tab stops training; two replicas both busy).
status=0
python3 -m pytest -m "not browser" -n 2 || status=$?
python3 -m pytest -m browser || status=$?
exit "$status"
