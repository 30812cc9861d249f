#!/usr/bin/env bash
# Times `tug run --rm busybox true` (default bridge network, and `--network none`) beside `runc run` and `crun run` of the same busybox
# rootfs (a prepared bundle), and an unshare+chroot floor, in one run; prints the medians
# and the ratios. A benchmark, not a test: run it by hand on a quiet machine.
#   RUNS   runs per command (default 50)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-50}
[ "$(id -u)" = 0 ] || { echo "bench-start.sh: run as root" >&2; exit 1; }
for c in hyperfine runc crun; do command -v $c >/dev/null || { echo "bench-start.sh: $c missing: run scripts/setup.sh" >&2; exit 1; }; done
cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
tug="$repo/target/release/tug"

work=$(mktemp -d /var/tmp/tug-bench.XXXXXX)
cleanup() {
  chattr -i "$work/immutable/tug" 2>/dev/null || true
  runc delete -f tug-bench-runc >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export TUG_ROOT="$work/root" TUG_RUN="$work/run"
TUG="$tug" bash "$repo/images/busybox/build.sh" >/dev/null

# One bundle for runc and crun: the same rootfs, `true` as the process, no terminal.
mkdir -p "$work/bundle/rootfs"
tar -xf "${TUG_CACHE:-/var/cache/tug}"/busybox-rootfs-*.tar -C "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"/"true"/' "$work/bundle/config.json"

json="$work/results"
mkdir -p "$json"
bench() { # name, command...
  local name=$1; shift
  hyperfine -N --warmup 5 --runs "$runs" --export-csv "$json/$name.csv" --command-name "$name" "$@" >/dev/null
}
bench tug "$tug run --rm busybox true"
# runc's and crun's bundle has an empty network namespace: `--network none` is the like.
bench tugnone "$tug run --rm --network none busybox true"
# The same binary installed immutable (as scripts/setup.sh does): tug forks its shim from
# it instead of re-executing a sealed view of the binary first.
mkdir -p "$work/immutable" && cp "$tug" "$work/immutable/tug"
if chattr +i "$work/immutable/tug" 2>/dev/null; then
  bench tugimm "$work/immutable/tug run --rm --network none busybox true"
fi
bench runc "runc run -b $work/bundle tug-bench-runc"
# crun 1.8 refuses hybrid cgroups; unmount the cgroup2 part in a private mount namespace.
if [ -d /sys/fs/cgroup/unified ] && mountpoint -q /sys/fs/cgroup/unified; then
  unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified && \
    hyperfine -N --warmup 5 --runs $runs --export-csv $json/crun.csv --command-name crun \
    'crun run -b $work/bundle tug-bench-crun' >/dev/null"
else
  bench crun "crun run -b $work/bundle tug-bench-crun"
fi
bench floor "unshare -fmpuin --mount-proc chroot $work/bundle/rootfs /bin/true"

# hyperfine's CSV: command,mean,stddev,median,... in seconds.
median() { awk -F, 'NR==2 {printf "%.2f", $4*1000}' "$json/$1.csv"; }
t=$(median tug); tn=$(median tugnone); ti=$( [ -f "$json/tugimm.csv" ] && median tugimm || echo 0); r=$(median runc); c=$(median crun); f=$(median floor)
row() { awk -v n="$1" -v m="$2" -v t="$t" 'BEGIN { printf "%-28s %7.1fms %9.2fx\n", n, m, t/m }'; }
printf '%-28s %9s %10s\n' "median of $runs runs" "time" "tug/this"
row "tug run --rm busybox true" "$t"
row "... --network none" "$tn"
[ "$ti" = 0 ] || row "... none, immutable binary" "$ti"
row "runc run (bundle)" "$r"
row "crun run (bundle)" "$c"
row "unshare+chroot floor" "$f"
