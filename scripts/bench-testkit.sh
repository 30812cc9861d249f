#!/usr/bin/env bash
# The testkit's start-to-ready benchmark (issue 5): a busybox httpd fixture from
# `start()` to its port listening, against `tug run -d` + polling the port, in one run;
# prints both medians. Run as root after scripts/setup.sh.
#   BENCH_PROFILE  release (default) or debug
#   BENCH_RUNS     fixtures of each kind (default 20)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
profile=${BENCH_PROFILE:-release}
flag=()
[ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p tug --bin tug
cargo build -q "${flag[@]}" -p tug-testkit --example bench
TUG_BIN="$repo/target/$profile/tug" "$repo/target/$profile/examples/bench"
