#!/usr/bin/env bash
# Throughput (iperf3, one TCP stream) and connection rate (ab against busybox httpd, a new
# connection per request) through a published port (DNAT), from 127.0.0.1 and from the
# host's own address, vs the same servers reached directly at the container's address, in
# one run; prints the medians of ROUNDS interleaved rounds and their ratios. A benchmark,
# not a test: run it by hand on a quiet machine. iperf3 runs in a busybox container from
# the host's /usr (read-only).
#   ROUNDS       rounds, each measuring every path once (default 3)
#   SECS         seconds per iperf3 run (default 5)
#   REQUESTS     requests per ab run (default 5000)
#   CONCURRENCY  ab's concurrency (default 16)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-3}
secs=${SECS:-5}
requests=${REQUESTS:-5000}
concurrency=${CONCURRENCY:-16}
name=tug-bench-ports
[ "$(id -u)" = 0 ] || { echo "bench-ports.sh: run as root" >&2; exit 1; }
for c in iperf3 ab python3 ip; do
  command -v $c >/dev/null || { echo "bench-ports.sh: $c missing: run scripts/setup.sh" >&2; exit 1; }
done
cargo build -q --release -p tug --manifest-path "$repo/Cargo.toml"
tug="$repo/target/release/tug"

work=$(mktemp -d /var/tmp/tug-bench-ports.XXXXXX)
export TUG_ROOT="$work/root" TUG_RUN="$work/run"
cleanup() {
  "$tug" rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
TUG="$tug" bash "$repo/images/busybox/build.sh" >/dev/null

mkdir -p "$work/www"
head -c 512 /dev/zero | tr '\0' x > "$work/www/index.html"
# The host's /usr, and its /lib and /lib64 (links into /usr on Debian, where the dynamic
# loader and the libraries are), so that the host's iperf3 runs in the container. The
# image's own tools are called by their /bin paths: /usr/bin is the host's now.
mounts=(-v /usr:/usr:ro -v "$(readlink -f /lib):/lib:ro" -v "$work/www:/www:ro")
[ -e /lib64 ] && mounts+=(-v "$(readlink -f /lib64):/lib64:ro")
"$tug" run -d --name "$name" -p 5201 -p 8080 "${mounts[@]}" busybox \
  /bin/sh -c '/bin/mkdir -p /tmp && /bin/httpd -p 8080 -h /www && exec /usr/bin/iperf3 -s' >/dev/null

cip=$("$tug" inspect -f '{{.NetworkSettings.IPAddress}}' "$name")
host_port() { "$tug" port "$name" "$1" | head -n1 | sed 's/.*://'; }
p_iperf=$(host_port 5201)
p_http=$(host_port 8080)
host_ip=$(ip -4 route get 192.0.2.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}')
[ -n "$cip" ] && [ -n "$p_iperf" ] && [ -n "$p_http" ] || { echo "bench-ports.sh: no address or ports: $cip $p_iperf $p_http" >&2; exit 1; }

# Ready when a one-second iperf3 run gets through (also a warm-up), within 20 s.
deadline=$((SECONDS + 20))
until iperf3 -c "$cip" -p 5201 -t 1 >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { echo "bench-ports.sh: iperf3 in the container does not answer" >&2; "$tug" logs "$name" >&2; exit 1; }
  sleep 0.2
done

gbits() { # host port → Gbit/s received
  iperf3 -c "$1" -p "$2" -t "$secs" -J |
    python3 -c 'import json, sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
rate() { # host port → requests (connections) per second
  ab -q -n "$requests" -c "$concurrency" "http://$1:$2/index.html" 2>/dev/null |
    awk '/^Requests per second/ {printf "%.0f", $4}'
}

rows=("direct $cip|$cip|5201|8080" "published 127.0.0.1|127.0.0.1|$p_iperf|$p_http")
[ -n "$host_ip" ] && rows+=("published $host_ip|$host_ip|$p_iperf|$p_http")
# Rounds interleave the paths, so that a slow moment of the machine hits them alike.
for _ in $(seq "$rounds"); do
  for i in "${!rows[@]}"; do
    IFS='|' read -r _ addr pi ph <<<"${rows[$i]}"
    echo "$(gbits "$addr" "$pi") $(rate "$addr" "$ph")" >>"$work/row$i"
  done
done
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
printf '%-28s %10s %10s %8s %8s   (median of %d rounds)\n' "" "Gbit/s" "conn/s" "tp/dir" "cr/dir" "$rounds"
for i in "${!rows[@]}"; do
  label=${rows[$i]%%|*}
  tp=$(cut -d' ' -f1 "$work/row$i" | median)
  cr=$(cut -d' ' -f2 "$work/row$i" | median)
  [ "$i" = 0 ] && { d_tp=$tp; d_cr=$cr; }
  awk -v l="$label" -v t="$tp" -v c="$cr" -v dt="$d_tp" -v dc="$d_cr" \
    'BEGIN { printf "%-28s %10.2f %10d %7.2fx %7.2fx\n", l, t, c, t / dt, c / dc }'
done
