#!/usr/bin/env bash
# tug's Postgres fixture side by side with testcontainers-rs on Docker (issue #11): the
# same image (tug-postgres:15, moved to Docker by `tug save | docker load`), started by
# the testcontainers crate's blocking runner until its ready line, then dropped; and by
# tug's testkit (`Postgres::default().start()`). Medians of BENCH_RUNS (default 10) and
# the ratio. A benchmark, not a test; run as root after scripts/setup.sh.
#
# Docker is Debian's docker.io, installed here if missing (not started by apt), run with
# roots, socket and network namespace of its own, and stopped at the end. The
# testcontainers program is scripts/fixture-timer (built in target/, crates from crates.io).
#   BENCH_RUNS     starts of each (default 10)
#   BENCH_PROFILE  release (default) or debug, for tug's side
#   BENCH_HOLD_MS  how long each fixture is held in the spare row (default 100)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
runs=${BENCH_RUNS:-10}
profile=${BENCH_PROFILE:-release}
flag=()
[ "$profile" = release ] && flag=(--release)

ns=tugbench-docker
dstate=/var/tmp/tugbench-docker
drun=/run/tugbench-docker
. "$repo/scripts/lib/dockerd.sh"
dockerd_install

cargo build -q "${flag[@]}" -p tug --bin tug
cargo build -q "${flag[@]}" -p tug-testkit --example bench_modules
tug="$repo/target/$profile/tug"
"$tug" image inspect debian:bookworm-slim >/dev/null 2>&1 || TUG="$tug" bash images/debian/build.sh >/dev/null
# tug's side first: it also builds tug-postgres:15 when missing.
tug_out=$(BENCH_RUNS=$runs BENCH_ONLY=postgres TUG_BIN="$tug" "$repo/target/$profile/examples/bench_modules")
tug_ms=$(echo "$tug_out" | grep 'Postgres::default()' | awk '{print $2}')
# With a warm spare (`with_spare(true)`), each fixture held BENCH_HOLD_MS (default 100)
# as a test would: the start takes the spare made while the previous test ran.
spare_ms=$(echo "$tug_out" | grep 'with_spare' | awk '{print $3}')

# Docker, in a network namespace of its own, with tug's image.
trap dockerd_stop EXIT
dockerd_start tug-postgres:15 || exit 1

# The testcontainers-rs side: scripts/fixture-timer, a small crate outside the workspace,
# run in dockerd's network namespace (its published ports are there).
target="${CARGO_TARGET_DIR:-$repo/target}/fixture-timer"
cargo build -q --release --manifest-path "$repo/scripts/fixture-timer/Cargo.toml" --target-dir "$target"
docker_ms=$(nsenter --net="/run/netns/$ns" env DOCKER_HOST="$dsock" TESTCONTAINERS_RYUK_DISABLED=true \
  RUNS="$runs" "$target/release/fixture-timer" tug-postgres 15 5432 stderr \
  "database system is ready to accept connections" POSTGRES_PASSWORD=postgres)

echo "Postgres (tug-postgres:15) start-to-ready, median of $runs"
printf '  %-44s %8s ms\n' "tug testkit (Postgres::default().start())" "$tug_ms"
printf '  %-44s %8s ms\n' "testcontainers-rs on Docker $(dockerd --version | awk '{print $3}' | tr -d ,)" "$docker_ms"
printf '  %-44s %8s ms\n' "tug testkit, with_spare(true), tests of ${BENCH_HOLD_MS:-100} ms" "$spare_ms"
awk -v a="$tug_ms" -v b="$docker_ms" 'BEGIN { printf "  tug is %.1fx faster\n", b / a }'
awk -v a="$spare_ms" -v b="$docker_ms" 'BEGIN { printf "  tug with a spare is %.0fx faster\n", b / a }'
