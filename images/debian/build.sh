#!/usr/bin/env bash
# Makes the `debian:bookworm-slim` image as Debian's own images are made: debootstrap
# --variant=minbase from Debian's mirror, then the slimming Docker's debian images apply
# (no apt lists, no man pages or docs). The rootfs tar is cached; a second run only imports.
# Usage: images/debian/build.sh [REFERENCE]   (default debian:bookworm-slim)
#   TUG            the tug binary (default: target/release/tug, then target/debug/tug, then PATH)
#   TUG_CACHE      where the rootfs tar is cached (default: /var/cache/tug, shared by every clone)
#   DEBIAN_MIRROR  the mirror (default: the first deb.debian.org-style URI of this host's apt sources)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
ref=${1:-debian:bookworm-slim}
suite=bookworm
cache=${TUG_CACHE:-/var/cache/tug}
if [ -z "${TUG:-}" ]; then
  for c in "$repo/target/release/tug" "$repo/target/debug/tug" "$(command -v tug || true)"; do
    [ -n "$c" ] && [ -x "$c" ] && { TUG=$c; break; }
  done
fi
[ -n "${TUG:-}" ] || { echo "images/debian/build.sh: no tug binary: cargo build first" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "images/debian/build.sh: debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }

if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | awk '{print $2}' | head -n1 || true)
  DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
fi

tarball="$cache/debian-$suite-slim-rootfs.tar"
lock="$cache/.debian-$suite.lock"
mkdir -p "$cache"
exec 9>"$lock"
flock 9   # one debootstrap at a time; the others wait and reuse its tar
if [ ! -s "$tarball" ]; then
  stage=$(mktemp -d "$cache/debian-stage.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  r="$stage/rootfs"
  echo "images/debian/build.sh: debootstrap $suite from $DEBIAN_MIRROR (a few minutes, once)" >&2
  debootstrap --variant=minbase "$suite" "$r" "$DEBIAN_MIRROR" >"$stage/debootstrap.log" 2>&1 \
    || { tail -20 "$stage/debootstrap.log" >&2; exit 1; }
  # What Docker's debian:*-slim images leave out.
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
    "$r"/var/log/* "$r"/usr/share/man/* "$r"/usr/share/doc/*/* "$r"/usr/share/info/* \
    "$r"/tmp/* "$r"/var/tmp/*
  # The running host's names do not belong in an image.
  : > "$r/etc/hostname"; rm -f "$r/etc/resolv.conf"
  printf 'deb %s %s main\ndeb %s %s-updates main\n' "$DEBIAN_MIRROR" "$suite" "$DEBIAN_MIRROR" "$suite" > "$r/etc/apt/sources.list"
  # Docker's apt settings for images: no recommends, no cached lists.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$r/etc/apt/apt.conf.d/docker-no-recommends"
  epoch=$(stat -c %Y "$r/var/lib/dpkg/status")
  tar --sort=name --format=gnu --numeric-owner --xattrs --mtime="@$epoch" --clamp-mtime \
    -C "$r" -cf "$stage/rootfs.tar" .
  echo "$epoch" > "$stage/epoch"
  mv "$stage/epoch" "$tarball.epoch"
  mv "$stage/rootfs.tar" "$tarball"
fi
SOURCE_DATE_EPOCH=$(cat "$tarball.epoch") "$TUG" import \
  --change 'CMD ["bash"]' \
  --message "debian $suite minbase, made by debootstrap" \
  "$tarball" "$ref"
