#!/usr/bin/env bash
# Times a detached container's life cycle, `tug run -d` + `tug rm -f`, beside
# `crun run -d` + `crun delete -f` and `runc run -d` + `runc delete -f` of the same busybox
# rootfs, in one run; then the resident memory of tug's shim per idle container.
# A benchmark, not a test: run it by hand on a quiet machine.
#   RUNS   runs per command (default 30)
#   IDLE   idle containers for the memory figure (default 10)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-30}
idle=${IDLE:-10}
[ "$(id -u)" = 0 ] || { echo "bench-lifecycle.sh: run as root" >&2; exit 1; }
for c in hyperfine runc crun; do command -v $c >/dev/null || { echo "bench-lifecycle.sh: $c missing: run scripts/setup.sh" >&2; exit 1; }; done
cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
tug="$repo/target/release/tug"

work=$(mktemp -d /var/tmp/tug-bench.XXXXXX)
cleanup() {
  for n in $(TUG_ROOT="$work/root" TUG_RUN="$work/run" "$tug" ps -a -q 2>/dev/null); do
    TUG_ROOT="$work/root" TUG_RUN="$work/run" "$tug" rm -f "$n" >/dev/null 2>&1 || true
  done
  runc delete -f tug-bench-runc >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export TUG_ROOT="$work/root" TUG_RUN="$work/run"
TUG="$tug" bash "$repo/images/busybox/build.sh" >/dev/null

# One bundle for runc and crun: the same rootfs, `sleep 1000`, no terminal.
mkdir -p "$work/bundle/rootfs"
tar -xf "${TUG_CACHE:-/var/cache/tug}"/busybox-rootfs-*.tar -C "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"/"sleep", "1000"/' "$work/bundle/config.json"

json="$work/results"
mkdir -p "$json"
bench() { # name, command
  hyperfine --warmup 3 --runs "$runs" --export-csv "$json/$1.csv" --command-name "$1" "$2" >/dev/null
}
bench tug "$tug run -d --name tug-bench busybox sleep 1000 >/dev/null && $tug rm -f tug-bench >/dev/null"
bench runc "runc run -d -b $work/bundle tug-bench-runc >/dev/null && runc delete -f tug-bench-runc"
# crun 1.8 refuses hybrid cgroups; unmount the cgroup2 part in a private mount namespace.
crun_cmd="crun run -d -b $work/bundle tug-bench-crun >/dev/null && crun delete -f tug-bench-crun"
if [ -d /sys/fs/cgroup/unified ] && mountpoint -q /sys/fs/cgroup/unified; then
  unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified && \
    hyperfine --warmup 3 --runs $runs --export-csv $json/crun.csv --command-name crun '$crun_cmd' >/dev/null"
else
  bench crun "$crun_cmd"
fi

median() { awk -F, 'NR==2 {printf "%.2f", $4*1000}' "$json/$1.csv"; }
t=$(median tug); r=$(median runc); c=$(median crun)
row() { awk -v n="$1" -v m="$2" -v t="$t" 'BEGIN { printf "%-34s %7.1fms %9.2fx\n", n, m, t/m }'; }
printf '%-34s %9s %10s\n' "median of $runs runs" "time" "tug/this"
row "tug run -d + tug rm -f" "$t"
row "runc run -d + runc delete -f" "$r"
row "crun run -d + crun delete -f" "$c"

# The shim's memory: the parent of each container's process is its shim.
ids=()
for i in $(seq 1 "$idle"); do ids+=("$("$tug" run -d busybox sleep 1000)"); done
sleep 1
rss=0; pss=0; anon=0
for id in "${ids[@]}"; do
  pid=$("$tug" inspect -f '{{.State.Pid}}' "$id")
  shim=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")
  rss=$((rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$shim/status")))
  anon=$((anon + $(awk '/^RssAnon:/ {print $2}' "/proc/$shim/status")))
  pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$shim/smaps_rollup")))
done
printf 'shim per idle container (%d containers): VmRSS %d KiB, RssAnon %d KiB, Pss %d KiB\n' \
  "$idle" $((rss / idle)) $((anon / idle)) $((pss / idle))
