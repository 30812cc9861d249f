#!/usr/bin/env bash
# Times a 5-service project's whole life: `tug compose up -d --wait` (network, five
# containers in dependency order, each healthy) and `tug compose down`, beside the same
# five services made one by one with `tug network create`, `tug run -d` and a `tug exec`
# of each healthcheck, then removed; and `docker-compose` on Docker's daemon when both
# are there. A benchmark, not a test: run it by hand on a quiet machine.
#   RUNS   runs per command (default 5)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "bench-compose.sh: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench-compose.sh: hyperfine missing: run scripts/setup.sh" >&2; exit 1; }
cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
tug="$repo/target/release/tug"

work=$(mktemp -d /var/tmp/tug-bench.XXXXXX)
export TUG_ROOT="$work/root" TUG_RUN="$work/run"
cleanup() {
  (cd "$work/proj" 2>/dev/null && "$tug" compose down -t 0 >/dev/null 2>&1) || true
  for n in $("$tug" ps -a -q 2>/dev/null); do "$tug" rm -f "$n" >/dev/null 2>&1 || true; done
  "$tug" network rm benchnet >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
TUG="$tug" bash "$repo/images/busybox/build.sh" >/dev/null

# db ← cache ← app ← api ← web, each with a healthcheck that passes at once.
mkdir -p "$work/proj"
{
  echo "services:"
  prev=""
  for s in db cache app api web; do
    echo "  $s:"
    echo "    image: busybox"
    echo "    command: sleep 1000"
    echo "    stop_grace_period: 0s"
    echo "    healthcheck: {test: [CMD, 'true'], interval: 1s}"
    [ -n "$prev" ] && echo "    depends_on: {$prev: {condition: service_healthy}}"
    prev=$s
  done
} > "$work/proj/compose.yml"

one_by_one="$tug network create benchnet >/dev/null"
for s in db cache app api web; do
  one_by_one+=" && $tug run -d --name $s --network benchnet busybox sleep 1000 >/dev/null && $tug exec $s true"
done
one_by_one+=" && $tug rm -f db cache app api web >/dev/null && $tug network rm benchnet >/dev/null"

cd "$work/proj"
cmds=(
  --command-name "tug compose up -d --wait + down" "$tug compose up -d --wait 2>/dev/null && $tug compose down -t 0 2>/dev/null"
  --command-name "tug run one by one + rm" "$one_by_one"
)
if command -v docker-compose >/dev/null && docker info >/dev/null 2>&1; then
  docker pull -q busybox >/dev/null
  cmds+=(--command-name "docker-compose up -d + down" "docker-compose -p tugbench up -d >/dev/null 2>&1 && docker-compose -p tugbench down -t 0 >/dev/null 2>&1")
else
  echo "(docker-compose or Docker's daemon is not here: tug only)"
fi
hyperfine --warmup 1 --runs "$runs" "${cmds[@]}"
