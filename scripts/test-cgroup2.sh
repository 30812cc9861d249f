#!/usr/bin/env bash
# The pure cgroup v2 lane: boots Debian's own kernel (linux-image-amd64, from Debian's
# mirror, cached) in qemu under software emulation, with an initramfs of busybox that
# shares the host's / read-only over 9p and builds a root from the host's userland with
# a pure cgroup2 hierarchy (cgroup_no_v1=all), then runs the project's cgroup tests
# there: the same test binaries and functions as on the host, picked by name. Exits with
# their result; says so and exits 0 when the lane cannot run here (no qemu).
#   TUG_VM_TIMEOUT  seconds the VM may take (default 1500)
#   TUG_VM_LOCKUP   seconds of a soft lockup that count as a hung VM: it is stopped and
#                   booted once more (default 60)
#   TUG_VM_ONLY     a regex: only the test lines (binary path and filter) it matches
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cache=${TUG_CACHE:-/var/cache/tug}/vm
log() { printf 'test-cgroup2: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { log "run me as root"; exit 1; }
for c in qemu-system-x86_64 depmod busybox python3; do
  command -v "$c" >/dev/null || { log "skipped: $c is missing (scripts/setup.sh installs it)"; exit 0; }
done
mkdir -p "$cache"

# The kernel and its modules, once per kernel package.
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
pkg=$(kernel_pkg)
if [ -z "$pkg" ] && [ ! -f "$cache/kernel.pkg" ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  pkg=$(kernel_pkg)
fi
# Offline with a kernel cached: use it.
[ -n "$pkg" ] || pkg=$(cat "$cache/kernel.pkg" 2>/dev/null || true)
[ -n "$pkg" ] || { log "skipped: apt knows no linux-image-amd64"; exit 0; }
if [ "$(cat "$cache/kernel.pkg" 2>/dev/null)" != "$pkg" ]; then
  log "fetching $pkg"
  rm -rf "$cache/kernel" "$cache"/linux-image-*.deb
  (cd "$cache" && apt-get download -q "$pkg" >/dev/null 2>&1)
  dpkg-deb -x "$cache"/linux-image-*.deb "$cache/kernel"
  rm -f "$cache"/linux-image-*.deb
  kver=$(ls "$cache/kernel/lib/modules")
  depmod -b "$cache/kernel" "$kver"
  echo "$pkg" > "$cache/kernel.pkg"
fi
kver=$(ls "$cache/kernel/lib/modules")
mods="$cache/kernel/lib/modules/$kver"

# The initramfs: busybox, the init, and the modules 9p over virtio needs (dependencies
# first, from modules.dep).
order=()
add_module() { # name
  local path deps d
  path=$(grep -E "/$1\.ko:" "$mods/modules.dep" | cut -d: -f1)
  [ -n "$path" ] || { log "no module $1 in $kver"; exit 1; }
  deps=$(grep -E "^$path:" "$mods/modules.dep" | cut -d: -f2)
  for d in $deps; do add_module "$(basename "$d" .ko)"; done
  local n; n=$(basename "$path" .ko)
  [[ " ${order[*]} " == *" $n "* ]] || order+=("$n")
}
for m in virtio_pci 9pnet_virtio 9p; do add_module "$m"; done
initrd="$cache/initrd-$kver.gz"
stamp=$(cat scripts/vm/init "$(command -v busybox)" | sha256sum | cut -c1-16)
if [ "$(cat "$initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
  work=$(mktemp -d)
  mkdir -p "$work"/{bin,proc,sys,dev,modules}
  cp "$(command -v busybox)" "$work/bin/busybox"
  cp scripts/vm/init "$work/init"
  for n in "${order[@]}"; do
    cp "$mods/$(grep -E "/$n\.ko:" "$mods/modules.dep" | cut -d: -f1)" "$work/modules/$n.ko"
  done
  printf '%s\n' "${order[@]}" > "$work/modules/order"
  (cd "$work" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$initrd")
  rm -rf "$work"
  echo "$stamp" > "$initrd.stamp"
fi

# The tests: the cgroup ones, by binary and name filter.
bash images/busybox/build.sh --rootfs-tar >/dev/null
cargo build -q -p tug
exes=$(cargo test -q --no-run --message-format=json -p tug -p tug-e2e 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"] + "/" + m["target"]["kind"][0], m["executable"])')
exe() { awk -v n="$1" '$1 == n {print $2}' <<<"$exes"; }
{
  echo "$(exe tug/lib) sandbox::cgroups"
  echo "$(exe cgroups/test)"
  echo "$(exe resources/test)"
  echo "$(exe stats/test)"
  echo "$(exe escapes/test) device"
  echo "$(exe exec/test) exec_joins"
} > "$cache/tests.txt"
# TUG_VM_ONLY=REGEX: only the lines (binary and filter) that match, for a quick re-run.
if [ -n "${TUG_VM_ONLY:-}" ]; then
  grep -E "$TUG_VM_ONLY" "$cache/tests.txt" > "$cache/tests.only" || true
  mv "$cache/tests.only" "$cache/tests.txt"
fi

echo "$repo" > "$cache/repo"
console="$cache/console.log"

# A soft lockup this long means the VM hangs (seen once in CI: both vCPUs stuck for
# 600 s in the first tests, and not again in later runs); a slow emulation shows none.
# (`loglevel=5` on the kernel's command line puts the lockup's call trace on the console.)
lockup_secs=${TUG_VM_LOCKUP:-60}
locked_up() {
  grep -aoE 'soft lockup - CPU#[0-9]+ stuck for [0-9]+s' "$console" 2>/dev/null |
    awk -v max="$lockup_secs" '{ s = $NF; sub(/s$/, "", s); if (s + 0 >= max) found = 1 } END { exit !found }'
}

# Boots the VM once; its console goes to $console (the kernel's lines only there).
# Returns qemu's status, or 3 when the VM's kernel locked up and was stopped.
boot() {
  : > "$console"
  timeout "${TUG_VM_TIMEOUT:-1500}" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -smp 2 -m 4096 \
    -nographic -no-reboot -monitor none -serial stdio -net none \
    -kernel "$cache/kernel/boot/vmlinuz-$kver" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet loglevel=5 cgroup_no_v1=all" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on \
    </dev/null >"$console" 2>&1 &
  local vm=$!
  tail -n +1 -s 0.2 -f --pid="$vm" "$console" | grep -av '^\[ *[0-9.]*\]' &
  local shown=$!
  while kill -0 "$vm" 2>/dev/null; do
    if locked_up; then
      log "the VM's kernel locked up (a soft lockup of ${lockup_secs}s or more; see $console): stopping it"
      kill "$vm" 2>/dev/null
      wait "$vm" 2>/dev/null
      wait "$shown" 2>/dev/null
      return 3
    fi
    sleep 1
  done
  wait "$vm"
  local status=$?
  wait "$shown" 2>/dev/null
  return "$status"
}

log "booting $kver (software emulation)"
set +e
boot
if [ $? = 3 ]; then
  cp "$console" "$console.lockup"
  log "booting again (the locked-up console is kept in $console.lockup)"
  boot
fi
set -e
code=$(grep -ao 'TUG-VM-EXIT=[0-9]*' "$console" | tail -1 | cut -d= -f2)
if [ -z "$code" ]; then
  log "the VM ended without a result: see $console"
  exit 1
fi
log "the cgroup v2 lane exited $code"
exit "$code"
