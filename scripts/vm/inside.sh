#!/usr/bin/env bash
# Runs in the cgroup v2 VM (see scripts/test-cgroup2.sh), in a root made of the host's
# userland: enables the controllers, loads what the containers' networking needs, and
# runs the cgroup tests listed in /var/cache/tug/vm/tests.txt (one `binary [filter...]`
# a line: the same test functions as on the host). Exits non-zero if any failed.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME=/root CI=true
echo "vm: kernel $(uname -r), cgroup: $(stat -fc %T /sys/fs/cgroup)"
echo "+cpuset +cpu +io +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
echo "vm: controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
modprobe -d /var/cache/tug/vm/kernel -a overlay veth bridge nf_tables nft_chain_nat nft_masq nft_nat nft_ct \
  nft_redir nft_reject_inet nft_fib_inet nf_conntrack nf_nat br_netfilter 2>&1 | head -5
sysctl -qw net.ipv4.ip_forward=1
cd "$(dirname "$0")/../.."
export INSTA_WORKSPACE_ROOT=$PWD
status=0
if [ -f /var/cache/tug/vm/debug.sh ]; then bash /var/cache/tug/vm/debug.sh; exit $?; fi
while read -r bin filters; do
  [ -n "$bin" ] || continue
  echo "vm: running $(basename "$bin") $filters"
  # shellcheck disable=SC2086
  "$bin" --test-threads=2 $filters || status=1
done < /var/cache/tug/vm/tests.txt
exit $status
