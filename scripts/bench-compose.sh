#!/usr/bin/env bash
# Times a 5-service project's whole life: `tug compose up -d --wait` (network, five
# containers in dependency order, each healthy) and `tug compose down`, beside the same
# five services made one by one with `tug network create`, `tug run -d` and a `tug exec`
# of each healthcheck, then removed; and Debian's `docker-compose` (1.29) on Debian's
# docker.io doing the same (`up -d`, then waiting for the last service's health, then
# `down`). A benchmark, not a test: run it by hand on a quiet machine.
#
# Three variants of the project: checks with `interval: 1s` only (Docker's semantics: the
# first check one interval after the start, so the chain waits out five intervals,
# whoever runs it); the same with `interval: 100ms`, which Docker 20.10 and
# docker-compose 1.29 take as they are (the like-for-like figure: both sides wait out
# the same 0.5 s of intervals, the rest is the tools' own time); and `interval: 1s` with
# `start_period: 30s` + `start_interval: 100ms`
# (compose spec; Docker 25+: while starting within the start period, checks every start
# interval). Debian's Docker 20.10 has no start interval and docker-compose 1.29's schema
# rejects the key, so Docker's side of the second variant runs without it (what Docker
# 20.10 would do with it anyway): the script says so in its output.
#
# docker.io and docker-compose are installed with apt when missing (the daemon not
# started by apt); dockerd runs with roots, socket and network namespace of its own,
# gets busybox from tug (`tug save | docker load`, offline), and is stopped at the end.
#   RUNS       runs per command (default 5)
#   NO_DOCKER  set: tug only
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "bench-compose.sh: run as root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench-compose.sh: hyperfine missing: run scripts/setup.sh" >&2; exit 1; }
cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
tug="${CARGO_TARGET_DIR:-$repo/target}/release/tug"

work=$(mktemp -d /var/tmp/tug-bench.XXXXXX)
export TUG_ROOT="$work/root" TUG_RUN="$work/run"
# Docker's side (scripts/lib/dockerd.sh).
ns=tugbench-compose
dstate=/var/tmp/tugbench-compose-docker
drun=/run/tugbench-compose-docker
. "$repo/scripts/lib/dockerd.sh"
cleanup() {
  for d in proj proj-100 proj-si; do
    (cd "$work/$d" 2>/dev/null && "$tug" compose down -t 0 >/dev/null 2>&1) || true
  done
  for n in $("$tug" ps -a -q 2>/dev/null); do "$tug" rm -f "$n" >/dev/null 2>&1 || true; done
  "$tug" network rm benchnet >/dev/null 2>&1 || true
  rm -rf "$work"
  if [ -n "$dockerd_pid" ]; then
    for f in compose.yml compose-100.yml compose-si.yml; do
      (cd /tmp && DOCKER_HOST=$dsock docker-compose -p tugbench -f "$dstate/$f" down -t 0 >/dev/null 2>&1) || true
    done
  fi
  dockerd_stop
}
trap cleanup EXIT
TUG="$tug" bash "$repo/images/busybox/build.sh" >/dev/null

# db ← cache ← app ← api ← web, each with a healthcheck that passes at once; $1: the
# healthcheck's timing keys.
project() {
  echo "services:"
  local prev="" s
  for s in db cache app api web; do
    echo "  $s:"
    echo "    image: busybox"
    echo "    command: sleep 1000"
    echo "    stop_grace_period: 0s"
    echo "    healthcheck: {test: [CMD, 'true'], $1}"
    [ -n "$prev" ] && echo "    depends_on: {$prev: {condition: service_healthy}}"
    prev=$s
  done
}
mkdir -p "$work/proj" "$work/proj-100" "$work/proj-si"
project "interval: 1s" > "$work/proj/compose.yml"
project "interval: 100ms" > "$work/proj-100/compose.yml"
project "interval: 1s, start_period: 30s, start_interval: 100ms" > "$work/proj-si/compose.yml"
# Docker's copy of the second variant: docker-compose 1.29 rejects `start_interval`.
project "interval: 1s, start_period: 30s" > "$work/proj-si/compose-docker.yml"

one_by_one="$tug network create benchnet >/dev/null"
for s in db cache app api web; do
  one_by_one+=" && $tug run -d --name $s --network benchnet busybox sleep 1000 >/dev/null && $tug exec $s true"
done
one_by_one+=" && $tug rm -f db cache app api web >/dev/null && $tug network rm benchnet >/dev/null"

cd "$work/proj"
up_down="$tug compose up -d --wait 2>/dev/null && $tug compose down -t 0 2>/dev/null"
cmds=(
  --command-name "tug compose up -d --wait + down (interval 1s)" "$up_down"
  --command-name "tug compose up -d --wait + down (interval 100ms)" "cd $work/proj-100 && $up_down"
  --command-name "tug compose up -d --wait + down (start_interval 100ms)" "cd $work/proj-si && $up_down"
  --command-name "tug run one by one + rm" "$one_by_one"
)
if [ -z "${NO_DOCKER:-}" ]; then
  dockerd_install docker-compose
  if command -v docker-compose >/dev/null && dockerd_start busybox:latest; then
    cp "$work/proj/compose.yml" "$dstate/compose.yml"
    cp "$work/proj-100/compose.yml" "$dstate/compose-100.yml"
    cp "$work/proj-si/compose-docker.yml" "$dstate/compose-si.yml"
    # docker-compose 1.x has no --wait: `up -d` waits for the dependencies' health, then
    # the last service's health is polled.
    healthy="until [ \"\$(DOCKER_HOST=$dsock docker inspect -f '{{.State.Health.Status}}' tugbench_web_1)\" = healthy ]; do sleep 0.02; done"
    versions="docker-compose $(docker-compose version --short 2>/dev/null), Docker $(dockerd --version | awk '{print $3}' | tr -d ,)"
    for v in "compose.yml:interval 1s" "compose-100.yml:interval 100ms" "compose-si.yml:start_period 30s, no start_interval"; do
      dc="DOCKER_HOST=$dsock docker-compose -p tugbench -f $dstate/${v%%:*}"
      cmds+=(--command-name "$versions: up -d, web healthy + down (${v#*:})"
        "$dc up -d >/dev/null 2>&1 && $healthy && $dc down -t 0 >/dev/null 2>&1")
    done
    echo "(Docker's side of the start_interval variant: docker-compose 1.29 rejects start_interval and Docker 20.10 has none (API < 1.44), so it runs the same checks without it and waits out each check's 1 s interval)"

  else
    echo "(docker-compose or Docker's daemon could not be installed or started: tug only)"
  fi
fi
hyperfine --warmup 1 --runs "$runs" "${cmds[@]}"
