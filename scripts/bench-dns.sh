#!/usr/bin/env bash
# The latency of a lookup at the embedded DNS server (127.0.0.11 in a container on a user
# network, answered by the container's shim): QUERIES sequential UDP queries for a peer's
# name (an A answer) and for an unknown single-label name (NXDOMAIN), sent by a small
# query tool (python3 of the host, in the container's network namespace via nsenter),
# each timed from send to answer; prints the medians and the 99th percentiles. A
# benchmark, not a test: run it by hand on a quiet machine. Target: median ≤ 1 ms.
#   QUERIES  queries per name (default 2000)
#   TUG      the tug binary (default: a release build of this checkout)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
queries=${QUERIES:-2000}
[ "$(id -u)" = 0 ] || { echo "bench-dns.sh: run as root" >&2; exit 1; }
for c in python3 nsenter; do
  command -v $c >/dev/null || { echo "bench-dns.sh: $c missing: run scripts/setup.sh" >&2; exit 1; }
done
if [ -z "${TUG:-}" ]; then
  cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
  TUG="${CARGO_TARGET_DIR:-$repo/target}/release/tug"
fi
tug=$TUG

work=$(mktemp -d /var/tmp/tug-bench-dns.XXXXXX)
export TUG_ROOT="$work/root" TUG_RUN="$work/run"
net=tug-bench-dns
cleanup() {
  "$tug" rm -f bench-dns-asker bench-dns-peer >/dev/null 2>&1 || true
  "$tug" network rm "$net" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
TUG="$tug" bash "$repo/images/busybox/build.sh" >/dev/null
"$tug" network create "$net" >/dev/null
"$tug" run -d --name bench-dns-peer --network "$net" busybox sleep 600 >/dev/null
"$tug" run -d --name bench-dns-asker --network "$net" busybox sleep 600 >/dev/null
pid=$("$tug" inspect -f '{{.State.Pid}}' bench-dns-asker)

# Only the network namespace is the container's: python3 and its files are the host's.
nsenter --net="/proc/$pid/ns/net" python3 - "$queries" <<'EOF'
import socket, statistics, struct, sys, time

n = int(sys.argv[1])

def query(qid, name):
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("127.0.0.11", 53))
for name, want in (("bench-dns-peer", 0), ("bench-dns-nobody", 3)):
    times = []
    for i in range(n + 50):
        q = query(i & 0xFFFF, name)
        t0 = time.perf_counter_ns()
        s.send(q)
        a = s.recv(512)
        t1 = time.perf_counter_ns()
        if a[:2] != q[:2] or a[3] & 0xF != want:
            sys.exit(f"bench-dns.sh: bad answer for {name}: {a!r}")
        if i >= 50:  # the first ones warm up
            times.append((t1 - t0) / 1e6)
    times.sort()
    print(f"{name:18} rcode {want}: median {statistics.median(times):.3f} ms, "
          f"p99 {times[int(len(times) * 0.99)]:.3f} ms over {n} queries")
EOF
