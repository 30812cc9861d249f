#!/usr/bin/env bash
# The README's second command, and what CI runs: every test of the workspace.
# Installs what the tests need first (scripts/setup.sh, idempotent), builds the `tug`
# binary the end-to-end tests run, then runs the tests (nextest when installed: one
# process per test; else cargo test). Extra arguments go to the test runner.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
TUG_SETUP_PROFILE=${TUG_SETUP_PROFILE:-debug} bash scripts/setup.sh
cargo build --workspace --all-targets
status=0
# Doc tests first, so that the run closes on the main runner's summary.
cargo test --workspace --doc -q || status=$?
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --no-fail-fast "$@" || status=$?
fi
# Whatever the outcome, the tests must have cleaned up after themselves.
bash scripts/check-leaks.sh || status=1
exit $status
