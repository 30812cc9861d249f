#!/usr/bin/env bash
# Push and pull of a ~100 MB four-layer image against a loopback docker-registry, side by
# side with `skopeo copy` (push, and a blob-only pull into an OCI layout) and `podman pull`
# (which unpacks), in one run; prints seconds, MB/s and the ratios. A benchmark, not a
# test: run it by hand on a quiet machine. Installs podman (Debian) if it is missing.
#   LAYER_MB   size of each of the four layers in MB (default 25; random, so gzip keeps it)
#   RUNS       runs of each operation; the median is shown (default 3)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
layer_mb=${LAYER_MB:-25}
runs=${RUNS:-3}
[ "$(id -u)" = 0 ] || { echo "bench-registry.sh: run as root" >&2; exit 1; }
for c in docker-registry skopeo umoci; do
  command -v $c >/dev/null || { echo "bench-registry.sh: $c missing: run scripts/setup.sh" >&2; exit 1; }
done
command -v podman >/dev/null || { apt-get update -qq && apt-get install -y -qq podman >/dev/null; }
cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
tug="$repo/target/release/tug"

work=$(mktemp -d /var/tmp/tug-bench-registry.XXXXXX)
reg_pid=
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
  podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver overlay rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh registry (empty storage, new port) per run, so neither tug nor skopeo (whose
# blob cache remembers registries by host:port) can skip or mount a blob it sent before.
start_registry() { # run number
  [ -n "$reg_pid" ] && { kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null || true; }
  port=$((30000 + RANDOM % 20000))
  while (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((30000 + RANDOM % 20000)); done
  cat > "$work/registry.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry-$1
http:
  addr: 127.0.0.1:$port
YAML
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  reg_pid=$!
  for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.05
  done
  host=127.0.0.1:$port
}

# The image: four layers of random bytes, made with umoci, copied into tug's store.
umoci init --layout "$work/src"
umoci new --image "$work/src:bench"
for i in 1 2 3 4; do
  mkdir -p "$work/l$i"
  head -c "${layer_mb}M" /dev/urandom > "$work/l$i/data$i"
  tar -C "$work/l$i" -cf "$work/l$i.tar" .
  umoci raw add-layer --image "$work/src:bench" "$work/l$i.tar"
  rm -rf "$work/l$i" "$work/l$i.tar"
done
export TUG_ROOT="$work/tug-push" TUG_RUN="$work/run" DOCKER_CONFIG="$work/docker"
mkdir -p "$TUG_ROOT/images" "$DOCKER_CONFIG"
echo '{"auths":{}}' > "$DOCKER_CONFIG/config.json"
skopeo copy -q "oci:$work/src:bench" "oci:$TUG_ROOT/images:bench:1"
bytes=$(du -sb "$work/src/blobs" | cut -f1)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')

now() { date +%s.%N; }
declare -A secs
timed() { # name, command...: appends one run's seconds to secs[name]
  local name=$1; shift
  local t0; t0=$(now)
  "$@" >/dev/null 2>"$work/err" || { echo "bench-registry.sh: $name failed: $*" >&2; cat "$work/err" >&2; exit 1; }
  secs[$name]+="$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }') "
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
podman_() { podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver overlay "$@"; }
push_root=$TUG_ROOT
for i in $(seq "$runs"); do
  start_registry "$i"
  export TUG_ROOT=$push_root
  rm -f "$TUG_ROOT/registry/blob-sources.json"
  "$tug" tag bench:1 "$host/bench:1"
  timed "tug push" "$tug" push "$host/bench:1"
  timed "skopeo push" skopeo copy --dest-tls-verify=false "oci:$work/src:bench" "docker://$host/skopeo:1"
  # Each pull starts from an empty store.
  export TUG_ROOT="$work/tug-pull-$i"
  timed "tug pull" "$tug" pull "$host/bench:1"
  rm -rf "$TUG_ROOT"
  timed "skopeo copy (blobs only)" skopeo copy --src-tls-verify=false "docker://$host/bench:1" "oci:$work/skopeo-pull-$i:bench"
  rm -rf "$work/skopeo-pull-$i"
  timed "podman pull (unpacks)" podman_ pull -q --tls-verify=false "$host/bench:1"
  podman_ rmi -a -f >/dev/null 2>&1
  rm -rf "$work/registry-$i"
done
for n in "${!secs[@]}"; do secs[$n]=$(median "${secs[$n]}"); done

echo "image: $mb MB in 4 layers, registry on loopback; median of $runs runs"
printf '%-26s %8s %8s\n' operation seconds MB/s
for n in "tug push" "skopeo push" "tug pull" "skopeo copy (blobs only)" "podman pull (unpacks)"; do
  printf '%-26s %8.2f %8.0f\n' "$n" "${secs[$n]}" "$(awk -v m="$mb" -v s="${secs[$n]}" 'BEGIN { print m / s }')"
done
ratio() { awk -v a="${secs[$2]}" -v b="${secs[$1]}" 'BEGIN { printf "%.2f", a / b }'; }
echo "push: tug is $(ratio "tug push" "skopeo push")x skopeo's speed (target >= 1)"
echo "pull: tug is $(ratio "tug pull" "skopeo copy (blobs only)")x skopeo's blob copy (target >= 0.8), $(ratio "tug pull" "podman pull (unpacks)")x podman's pull (target >= 2)"
