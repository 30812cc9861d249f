#!/usr/bin/env bash
# Makes the `busybox` image, reproducibly, from Debian's busybox-static: the same busybox
# binary gives the same rootfs tar, the same layer and the same image digest on every
# machine. Usage: images/busybox/build.sh [REFERENCE]   (default busybox:latest)
#        images/busybox/build.sh --rootfs-tar   makes (or finds) the rootfs tar, prints its path
#   TUG        the tug binary (default: target/release/tug, then target/debug/tug, then PATH)
#   TUG_CACHE  where the rootfs tar is cached (default: /var/cache/tug, shared by every clone)
# The library makes the same image without this script (Engine::create_busybox_image in
# runtime/src/image/busybox.rs, which the testkit uses): same files, modes and mtimes, the
# same tar byte for byte, the same import options. Tests hold the two identical; change
# both together.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
ref=${1:-busybox:latest}
only_tar=false
[ "$ref" = --rootfs-tar ] && only_tar=true
cache=${TUG_CACHE:-/var/cache/tug}
bb=/bin/busybox
[ -x "$bb" ] || { echo "images/busybox/build.sh: $bb is missing: apt-get install busybox-static" >&2; exit 1; }
if [ -z "${TUG:-}" ] && ! $only_tar; then
  for c in "$repo/target/release/tug" "$repo/target/debug/tug" "$(command -v tug || true)"; do
    [ -n "$c" ] && [ -x "$c" ] && { TUG=$c; break; }
  done
fi
$only_tar || [ -n "${TUG:-}" ] || { echo "images/busybox/build.sh: no tug binary: cargo build first" >&2; exit 1; }

# The files keep the binary's own mtime (that of Debian's package build), so they and the
# image's Created date are the same wherever the same package is installed.
epoch=$(stat -c %Y "$bb")
sum=$(sha256sum "$bb" | cut -c1-16)
tarball="$cache/busybox-rootfs-$sum.tar"
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  stage=$(mktemp -d "$cache/busybox-stage.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  r="$stage/rootfs"
  mkdir -p "$r"/{bin,dev,etc,home,proc,root,sys,tmp,usr/sbin,var/spool/mail,var/www}
  chmod 1777 "$r/tmp"
  chmod 700 "$r/root"
  cp "$bb" "$r/bin/busybox"
  # Every applet as a hard link in /bin, as Docker's busybox image has them.
  for applet in $("$bb" --list | sort -u); do
    case "$applet" in busybox|linuxrc) continue ;; esac
    ln "$r/bin/busybox" "$r/bin/$applet"
  done
  # The files of /etc, shared with the library (runtime/src/image/busybox.rs).
  install -m 644 "$repo/images/busybox/etc/passwd" "$repo/images/busybox/etc/group" "$r/etc/"
  install -m 640 "$repo/images/busybox/etc/shadow" "$r/etc/"
  find "$r" -exec touch -h -d "@$epoch" {} +
  tar --sort=name --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$epoch" \
    -C "$r" -cf "$stage/rootfs.tar" .
  mv "$stage/rootfs.tar" "$tarball"
fi
if $only_tar; then echo "$tarball"; exit 0; fi
version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH=$epoch "$TUG" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["sh"]' \
  --message "busybox $version from Debian's busybox-static" \
  "$tarball" "$ref"
