#!/usr/bin/env bash
# Times `tug build` of a 10-step Dockerfile on the busybox image (ENV, WORKDIR, four RUN,
# a COPY of a small context, CMD) beside `buildah bud --layers` of the same Dockerfile and
# context, in one run: cold (--no-cache), fully cached, and after one source file changed;
# prints medians and the tug/buildah ratios. A benchmark, not a test: run it by hand on a
# quiet machine. Installs buildah (Debian) if it is missing. buildah gets the same base
# image, loaded from a `tug save` archive, its own --root/--runroot, overlay storage and
# runc (Debian's crun refuses hybrid cgroups). Both run their RUN steps with their default
# network (tug: the bridge with NAT; buildah: a private namespace).
#   RUNS   runs of each case; the median is shown (default 5)
#   TUG    the tug binary to time (default: a release build made here)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "bench-build.sh: run as root" >&2; exit 1; }
command -v buildah >/dev/null || { apt-get update -qq && apt-get install -y -qq buildah >/dev/null; }
command -v runc >/dev/null || { echo "bench-build.sh: runc missing: run scripts/setup.sh" >&2; exit 1; }
if [ -z "${TUG:-}" ]; then
  cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
  TUG="$repo/target/release/tug"
fi
tug=$TUG

work=$(mktemp -d /var/tmp/tug-bench-build.XXXXXX)
bah() { buildah --root "$work/buildah/root" --runroot "$work/buildah/run" --storage-driver overlay "$@"; }
cleanup() {
  # Only this run's root: never the containers of the default one.
  for c in $(TUG_ROOT="$work/tug/root" TUG_RUN="$work/tug/run" "$tug" ps -a -q 2>/dev/null); do
    TUG_ROOT="$work/tug/root" TUG_RUN="$work/tug/run" "$tug" rm -f "$c" >/dev/null 2>&1 || true
  done
  bah rm -a >/dev/null 2>&1 || true
  bah rmi -a -f >/dev/null 2>&1 || true
  # buildah leaves its overlay storage mounted; never remove files through a mount.
  awk -v b="$work" 'index($5, b) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export TUG_ROOT="$work/tug/root" TUG_RUN="$work/tug/run"
TUG="$tug" bash "$repo/images/busybox/build.sh" busybox:latest >/dev/null
"$tug" save -o "$work/busybox.tar" busybox:latest
bah pull -q "docker-archive:$work/busybox.tar" >/dev/null

# The context: 20 small source files and the Dockerfile; one file changes between runs.
ctx="$work/ctx"
mkdir -p "$ctx/src"
for i in $(seq -w 1 20); do
  head -c 3000 /dev/urandom | base64 > "$ctx/src/part$i.txt"
done
cat > "$ctx/Dockerfile" <<'EOF'
FROM busybox
ENV APP_HOME=/app
WORKDIR /app
RUN mkdir -p data logs && echo "made" > data/made.txt
RUN echo "app:x:1000:1000::/app:/bin/sh" >> /etc/passwd
COPY src/ /app/src/
RUN ls src | wc -l > data/count.txt
RUN cat src/*.txt | md5sum > data/sum.txt
ENV GREETING=hello
CMD ["cat", "/app/data/sum.txt"]
EOF

now() { date +%s.%N; }
declare -A secs
timed() { # name, command...: appends one run's seconds to secs[name]
  local name=$1; shift
  local t0; t0=$(now)
  "$@" >"$work/out" 2>&1 || { echo "bench-build.sh: $name failed: $*" >&2; cat "$work/out" >&2; exit 1; }
  secs[$name]+="$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.4f", a - b }') "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tug_build() { "$tug" build -q -t bench "$@" "$ctx"; }
bah_build() { bah bud -q --runtime "$(command -v runc)" --layers --pull=never -t bench "$@" "$ctx"; }
for i in $(seq "$runs"); do
  timed "tug cold" tug_build --no-cache
  timed "buildah cold" bah_build --no-cache
  timed "tug cached" tug_build
  timed "buildah cached" bah_build
  echo "change $i" >> "$ctx/src/part07.txt"
  timed "tug changed" tug_build
  timed "buildah changed" bah_build
done
# The cached build must have run nothing: check it once more, with the plain output.
"$tug" build --progress plain -t bench "$ctx" 2>&1 | grep -q ': 0 steps run' \
  || { echo "bench-build.sh: the cached tug build ran steps" >&2; exit 1; }
for n in "${!secs[@]}"; do secs[$n]=$(median "${secs[$n]}"); done

echo "tug: $tug; $(buildah --version)"
echo "10-step Dockerfile on busybox (4 RUN, COPY of 20 files), median of $runs runs"
printf '%-28s %9s %12s %9s\n' case tug buildah tug/buildah
for c in cold cached changed; do
  label=$c
  case $c in
    cold) label="cold (--no-cache)" ;;
    cached) label="fully cached" ;;
    changed) label="one source file changed" ;;
  esac
  awk -v n="$label" -v t="${secs[tug $c]}" -v b="${secs[buildah $c]}" \
    'BEGIN { printf "%-28s %7.0fms %10.0fms %10.2fx\n", n, t * 1000, b * 1000, t / b }'
done
echo "targets: cached <= 100 ms and <= 0.3x buildah's; cold faster than buildah's (< 1x)"
