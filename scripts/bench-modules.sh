#!/usr/bin/env bash
# The database modules' benchmark (issue #11): start-to-ready of Postgres, Redis, MariaDB
# and the registry with their images cached, and fresh_database(), medians, in one run.
# A benchmark, not a test. Run as root after scripts/setup.sh; the images are built on
# the first run (Debian's packages from Debian's mirror), on debian:bookworm-slim, made
# here by images/debian/build.sh when missing.
#   BENCH_PROFILE  release (default) or debug
#   BENCH_RUNS     starts of each (default 10)
#   BENCH_COLD     1: drop the page cache before each timed start (also run after the warm
#                  figures when BENCH_COLD=both)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
profile=${BENCH_PROFILE:-release}
flag=()
[ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p tug --bin tug
cargo build -q "${flag[@]}" -p tug-testkit --example bench_modules
tug="$repo/target/$profile/tug"
"$tug" image inspect debian:bookworm-slim >/dev/null 2>&1 || TUG="$tug" bash images/debian/build.sh >/dev/null
if [ "${BENCH_COLD:-}" = both ]; then
  BENCH_COLD=0 TUG_BIN="$tug" "$repo/target/$profile/examples/bench_modules"
  BENCH_COLD=1 TUG_BIN="$tug" "$repo/target/$profile/examples/bench_modules"
else
  TUG_BIN="$tug" "$repo/target/$profile/examples/bench_modules"
fi
