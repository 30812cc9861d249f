#!/usr/bin/env bash
# Times the same clients against tug's Docker API (`tug system service`) and against
# Debian's dockerd: the docker CLI's `docker run --rm busybox true`, and `docker run -d`
# followed by `docker rm -f`; then a testcontainers-rs Redis fixture (the crate's
# blocking runner, GenericImage tug-redis:7 waiting for its ready line) from start to
# ready, and the same fixture with busybox (ready at once: the engines' share without
# redis-server's own start), median of RUNS. The two daemons' runs are interleaved (scripts/lib/
# interleave.py says why). Prints the ratios of the medians, and the machine's load before
# and after (a warning when tasks waited for a CPU over 10% of the time: noisy figures),
# and the same ratios less each side's `docker version` (the client's own fixed cost).
# Everything it needs is built first, and each timing waits (up to a minute) for the CPU
# pressure those builds leave to pass. Both engines' run roots are on a tmpfs made for the
# run, their state roots in /var/tmp (or, with BENCH_FS=journal, on a journaled ext4 made
# for the run: scripts/lib/benchfs.sh says why). A benchmark, not a test: run it by hand
# on a quiet machine.
#
# tug serves a socket of its own on a state root of its own; dockerd runs with roots,
# socket and network namespace of its own (as scripts/bench-compose.sh starts it), gets
# busybox from tug (`tug save | docker load`, offline), and is stopped at the end.
#   RUNS       runs per command (default 20)
#   BENCH_FS   root (default) or journal: where the state roots are
#   NO_DOCKER  set: tug only
#   NO_REDIS   set: the docker CLI only (the Redis image is built from images/redis on
#              the debootstrap base: a minute or two on its first run)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-20}
[ "$(id -u)" = 0 ] || { echo "bench-api.sh: run as root" >&2; exit 1; }
command -v docker >/dev/null || { echo "bench-api.sh: no docker client: run scripts/setup.sh" >&2; exit 1; }
cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
tug="${CARGO_TARGET_DIR:-$repo/target}/release/tug"

work=$(mktemp -d /var/tmp/tug-bench-api.XXXXXX)
. "$repo/scripts/lib/load.sh"
. "$repo/scripts/lib/benchfs.sh"
tug_pid=
dockerd_pid=
own_root=
cleanup() {
  if [ -n "$tug_pid" ]; then
    for n in $(DOCKER_HOST=$tsock docker ps -aq 2>/dev/null); do DOCKER_HOST=$tsock docker rm -f "$n" >/dev/null 2>&1 || true; done
    kill "$tug_pid" 2>/dev/null || true
    wait "$tug_pid" 2>/dev/null || true
  fi
  # Only on the bench's own state root: before it is set, `tug` would see another one.
  if [ -n "$own_root" ]; then
    for n in $("$tug" ps -a -q 2>/dev/null); do "$tug" rm -f "$n" >/dev/null 2>&1 || true; done
  fi
  [ -n "$dockerd_pid" ] && dockerd_stop
  bench_fs_teardown "$work"
  rm -rf "$work"
}
trap cleanup EXIT
# Both engines' state and run roots on the same file systems (scripts/lib/benchfs.sh).
bench_fs_setup "$work"
export TUG_ROOT="$bench_state/tug" TUG_RUN="$bench_run/tug"
own_root=1
tsock="unix://$work/tug.sock"
ns=tugbench-api
dstate=$bench_state/docker
drun=$bench_run/docker
. "$repo/scripts/lib/dockerd.sh"
TUG="$tug" bash "$repo/images/busybox/build.sh" >/dev/null

# tug's server, waited for on its socket.
"$tug" system service --host "$tsock" 2>"$work/service.log" &
tug_pid=$!
for _ in $(seq 100); do DOCKER_HOST=$tsock docker version >/dev/null 2>&1 && break; sleep 0.1; done
DOCKER_HOST=$tsock docker version >/dev/null 2>&1 || { cat "$work/service.log" >&2; exit 1; }


# The Redis fixture, timed by testcontainers-rs (scripts/fixture-timer, a small crate
# outside the workspace). Prints the program's path.
redis_bench() {
  local target="${CARGO_TARGET_DIR:-$repo/target}/fixture-timer"
  cargo build -q --release --manifest-path "$repo/scripts/fixture-timer/Cargo.toml" --target-dir "$target"
  echo "$target/release/fixture-timer"
}

client=$(docker --version | awk '{print $3}' | tr -d ,)
echo "docker CLI $client; tug $("$tug" --version | awk '{print $2}')"
daemons=("tug=$tsock")
have_docker=
if [ -z "${NO_DOCKER:-}" ]; then
  if dockerd_start busybox:latest; then
    daemons+=("dockerd $(dockerd --version | awk '{print $3}' | tr -d ,)=$dsock")
    have_docker=1
  else
    echo "(Docker's daemon could not be started: tug only)"
  fi
fi
# Everything is built before anything is timed, and the timing waits for the builds'
# load to pass.
if [ -z "${NO_REDIS:-}" ]; then
  TUG="$tug" bash "$repo/images/debian/build.sh" >/dev/null
  "$tug" build -q -t tug-redis:7 "$repo/images/redis" >/dev/null
  prog=$(redis_bench)
  if [ -n "$have_docker" ]; then
    DOCKER_HOST=$dsock docker image inspect tug-redis:7 >/dev/null 2>&1 ||
      "$tug" save tug-redis:7 | DOCKER_HOST=$dsock docker load >/dev/null
  fi
fi
wait_quiet "the docker CLI runs"
machine_load before
# Both daemons' runs in short blocks, taking turns (scripts/lib/interleave.py): a busy
# spell of the machine slows both sides alike.
python3 "$repo/scripts/lib/interleave.py" "$runs" "$work/bench.json" "${daemons[@]}"
# A fixture timed on both daemons (args: a label, then fixture-timer's), in four blocks
# each, tug's and dockerd's in turn, for the same reason (the timer's first start, in
# each block, is not timed); prints the medians and their ratio.
fixture_bench() {
  local label=$1; shift
  : > "$work/fixture.tug"; : > "$work/fixture.dockerd"
  local block=$(( (runs + 3) / 4 ))
  for _ in 1 2 3 4; do
    DOCKER_HOST=$tsock TESTCONTAINERS_RYUK_DISABLED=true RUNS=$block EACH=1 "$prog" "$@" >> "$work/fixture.tug"
    if [ -n "$have_docker" ]; then
      # In dockerd's network namespace: its published ports are there.
      nsenter --net="/run/netns/$ns" env DOCKER_HOST="$dsock" \
        TESTCONTAINERS_RYUK_DISABLED=true RUNS=$block EACH=1 "$prog" "$@" >> "$work/fixture.dockerd"
    fi
  done
  median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  local t d
  t=$(median "$work/fixture.tug")
  echo "$label, start to ready, median of $((block * 4)):"
  echo "  tug: $t ms"
  if [ -n "$have_docker" ]; then
    d=$(median "$work/fixture.dockerd")
    echo "  dockerd: $d ms"
    awk -v a="$t" -v b="$d" 'BEGIN { printf "  tug %.1fx faster\n", b / a }'
  fi
}
if [ -z "${NO_REDIS:-}" ]; then
  wait_quiet "the Redis fixture"
  fixture_bench "testcontainers-rs Redis fixture (tug-redis:7)" \
    tug-redis 7 6379 stdout "Ready to accept connections"
  # The same client and steps with a container that is ready at once (busybox's httpd
  # binds its port, then the line is printed): the engines' share of a fixture without
  # the 8-10 ms that redis-server itself takes to start, the same on both.
  wait_quiet "the busybox fixture"
  export FIXTURE_CMD='httpd -p 8080 && echo ready && exec sleep 60'
  fixture_bench "the same client, busybox (httpd, then a line)" busybox latest 8080 stdout ready
  unset FIXTURE_CMD
fi
machine_load after
if [ -n "$have_docker" ]; then
  python3 - "$work/bench.json" <<'PY'
import json, sys
r = [x["median"] for x in json.load(open(sys.argv[1]))["results"]]
n = len(r) // 2  # commands per engine: tug's, then dockerd's
for i, what in enumerate(["docker run --rm busybox true", "docker run -d + docker rm -f"]):
    print(f"{what} (medians): tug {r[i]*1000:.0f} ms, dockerd {r[i+n]*1000:.0f} ms: tug {r[i+n]/r[i]:.1f}x faster")
# The engines' own share: each figure less that engine's `docker version` (one request:
# the CLI's start, a round trip and its exit), so that the client's fixed cost, the same
# on both sides, is out of the ratio.
fl, fd = r[2], r[2 + n]
print(f"docker version (the client's floor, medians): tug {fl*1000:.1f} ms, dockerd {fd*1000:.1f} ms")
# (`run -d` + `rm -f` is two CLI runs: two floors.)
for i, what in enumerate(["docker run --rm busybox true", "docker run -d + docker rm -f"]):
    t, d = r[i] - (i + 1) * fl, r[i + n] - (i + 1) * fd
    print(f"{what} less the floor: tug {t*1000:.1f} ms, dockerd {d*1000:.1f} ms: tug {d/t:.1f}x faster")
PY
fi
