#!/usr/bin/env bash
# Push and pull of a ~100 MB four-layer image against a loopback docker-registry, side by
# side with `skopeo copy` (push, and a blob-only pull into an OCI layout) and `podman pull`
# (which unpacks), in one run; prints seconds, MB/s and the ratios. A benchmark, not a
# test: run it by hand on a quiet machine. Installs podman (Debian) if it is missing.
#   LAYER_MB   size of each of the four layers in MB (default 25; random, so gzip keeps it)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
layer_mb=${LAYER_MB:-25}
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
  podman --root "$work/podman/root" --runroot "$work/podman/run" rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The registry on a free loopback port; wait for it with a deadline.
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
    rootdirectory: $work/registry
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
skopeo copy -q "oci:$work/src:bench" "oci:$TUG_ROOT/images:$host/bench:1"
bytes=$(du -sb "$work/src/blobs" | cut -f1)
mb=$(echo "scale=1; $bytes / 1000000" | bc)

now() { date +%s.%N; }
declare -A secs
timed() { # name, command...
  local name=$1; shift
  local t0; t0=$(now)
  "$@" >/dev/null 2>"$work/err" || { echo "bench-registry.sh: $name failed: $*" >&2; cat "$work/err" >&2; exit 1; }
  secs[$name]=$(echo "$(now) - $t0" | bc)
}
timed "tug push" "$tug" push "$host/bench:1"
timed "skopeo push" skopeo copy --dest-tls-verify=false "oci:$work/src:bench" "docker://$host/skopeo:1"
export TUG_ROOT="$work/tug-pull"
timed "tug pull" "$tug" pull "$host/bench:1"
timed "skopeo copy (blobs only)" skopeo copy --src-tls-verify=false "docker://$host/bench:1" "oci:$work/skopeo-pull:bench"
timed "podman pull (unpacks)" podman --root "$work/podman/root" --runroot "$work/podman/run" \
  --storage-driver overlay pull -q --tls-verify=false "$host/bench:1"

echo "image: $mb MB in 4 layers, registry on loopback"
printf '%-26s %8s %8s\n' operation seconds MB/s
for n in "tug push" "skopeo push" "tug pull" "skopeo copy (blobs only)" "podman pull (unpacks)"; do
  printf '%-26s %8.2f %8.0f\n' "$n" "${secs[$n]}" "$(echo "$mb / ${secs[$n]}" | bc -l)"
done
ratio() { echo "scale=2; ${secs[$2]} / ${secs[$1]}" | bc; }
echo "push: tug is $(ratio "tug push" "skopeo push")x skopeo's speed (target >= 1)"
echo "pull: tug is $(ratio "tug pull" "skopeo copy (blobs only)")x skopeo's blob copy (target >= 0.8), $(ratio "tug pull" "podman pull (unpacks)")x podman's pull (target >= 2)"
