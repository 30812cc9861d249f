#!/usr/bin/env bash
# Fails when the tests left something behind on this machine: a mount or a process under
# the tests' state roots (/var/tmp/tug-tests), a cgroup, network namespace, nftables table
# (tug_<bridge>, tug_p<id>) or iptables chain (TUG-…), link (bridges, tugv<hex> veths) or bridge lock file of tug's.
# scripts/test.sh runs it after the tests. A container's shim lingers a moment after its
# container (it removes a bridge left unused 750 ms later), so the checks are repeated
# for up to 10 s before anything counts as left behind.
set -u
base=/var/tmp/tug-tests
check() {
leaks=""
m=$(awk -v b="$base" 'index($5, b) == 1 {print $5}' /proc/self/mountinfo)
[ -n "$m" ] && leaks+=$'\nmounts:\n'"$m"
p=$(for e in /proc/[0-9]*/environ; do
      pid=${e#/proc/}; pid=${pid%/environ}
      grep -qz "^TUG_ROOT=$base/" "$e" 2>/dev/null && echo "$pid $(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline")"
    done)
[ -n "$p" ] && leaks+=$'\nprocesses:\n'"$p"
c=$(find /sys/fs/cgroup -maxdepth 3 -type d -name 'tug*' 2>/dev/null)
[ -n "$c" ] && leaks+=$'\ncgroups:\n'"$c"
n=$(ip netns list 2>/dev/null | grep -i tug || true)
[ -n "$n" ] && leaks+=$'\nnetwork namespaces:\n'"$n"
t=$(nft list tables 2>/dev/null | grep -i tug || true)
[ -n "$t" ] && leaks+=$'\nnftables tables:\n'"$t"
i=$(iptables-save 2>/dev/null | grep -E '^:TUG-' || true)
[ -n "$i" ] && leaks+=$'\niptables chains:\n'"$i"
l=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | grep -E '^tug' || true)
[ -n "$l" ] && leaks+=$'\nlinks:\n'"$l"
# A bridge's lock file lives as long as the bridge (tests' bridges are tugt<hex>).
b=$(for f in "${TUG_HOST_RUN:-/run/tug}"/bridges/*.lock; do
      [ -e "$f" ] || continue
      br=$(basename "$f" .lock)
      ip link show "$br" >/dev/null 2>&1 || echo "$f"
    done)
[ -n "$b" ] && leaks+=$'\nbridge lock files without their bridge:\n'"$b"
}
for _ in $(seq 50); do
  check
  [ -z "$leaks" ] && break
  sleep 0.2
done
if [ -n "$leaks" ]; then
  echo "check-leaks: the tests left these behind:$leaks" >&2
  exit 1
fi
echo "check-leaks: nothing left behind"
