#!/usr/bin/env bash
# Installs what tug, its tests and its benchmarks need on a Debian machine, builds tug, and
# makes the default `busybox` image. Idempotent: a second run only checks, so it is fast.
# Run as root. Environment:
#   TUG_SETUP_PROFILE  release (default) or debug: which build of tug to install as `tug`;
#                      none: install nothing of tug (what scripts/test.sh asks: the tests
#                      use their own build, and the user's `tug` stays the release one)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
log() { printf 'setup: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "run me as root (containers need it)"; exit 1; }
command -v cargo >/dev/null || { log "cargo is missing: install a Rust toolchain (1.95 or newer) first"; exit 1; }

# Debian packages: the engine's run-time helpers and the peers the tests and benchmarks use.
packages=(
  busybox-static   # the default image's only binary
  debootstrap      # the debian:bookworm-slim image, made on demand
  skopeo umoci     # interop tests: they read and write the OCI layouts tug writes and reads
  runc crun        # the start-time benchmark's peers
  hyperfine        # benchmarks
  iperf3 python3   # published ports: the benchmark's server and the UDP test's echo (run in a container from the host's /usr)
  python3-venv     # the Docker API's testcontainers-python test: a virtualenv under /var/cache/tug with the pins of tests/clients/requirements.txt
  iproute2 nftables iptables  # networking (and its tests)
  docker-registry  # a registry on loopback for push/pull tests
  docker.io docker-compose  # the Docker API's tests: Debian's docker client (where no newer static one is on PATH) and docker-compose 1.29 against `tug system service`
  apache2-utils openssl  # registry tests: htpasswd (bcrypt) and the token server's key, cert and JWT signatures
  tar gzip ca-certificates procps util-linux gawk
  e2fsprogs        # chattr: the installed binary is immutable (see below)
  qemu-system-x86 kmod  # the pure cgroup v2 lane (scripts/test-cgroup2.sh): a VM with Debian's kernel
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's docker-registry starts a service on :5000; the tests start their own.
  # docker.io's dockerd is not wanted running either: the tests use tug's API socket.
  if command -v systemctl >/dev/null; then
    for unit in docker-registry docker.socket docker; do
      if systemctl is-active -q "$unit" 2>/dev/null; then
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
      fi
    done
  fi
fi

# node and npm for the Docker API's testcontainers-node test (tests/clients/testcontainers-
# node, its packages from npm with `npm ci`): Debian's, unless the machine has both already
# (NodeSource's nodejs carries its own npm, and Debian's npm package would conflict with it).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# mdbook 0.5, which builds the workshop's book (a test runs `mdbook build book`): once,
# with cargo, into ~/.cargo/bin.
if ! mdbook --version 2>/dev/null | grep -q ' v0\.5\.'; then
  log "installing mdbook 0.5 (cargo install, once: a few minutes)"
  cargo install -q mdbook --locked --version '^0.5' --no-default-features
fi

profile=${TUG_SETUP_PROFILE:-release}
if [ "$profile" = none ]; then
  # The tests' run (scripts/test.sh): they use their own build of tug, so the installed
  # `tug` (the release build of the README's first command) is left as it is.
  log "ready (the installed tug is left as it is)"
  exit 0
fi
log "building tug ($profile)"
if [ "$profile" = release ]; then
  cargo build -q --release -p tug
else
  cargo build -q -p tug
fi
bin="$repo/target/$profile/tug"
# Installed as an immutable copy: a container can never write the binary that started
# it, so tug forks its shims from it directly instead of re-executing a sealed view of
# the binary first (which costs 3 to 6 ms a start; see runtime/src/sandbox/exeseal.rs).
dest=/usr/local/bin/tug
if [ -L "$dest" ] || ! cmp -s "$bin" "$dest"; then
  chattr -i "$dest" 2>/dev/null || true
  rm -f "$dest"
  install -m 0755 "$bin" "$dest"
  chattr +i "$dest" 2>/dev/null || log "chattr +i $dest failed: tug will re-execute itself sealed on every start"
fi
# `tug-compose` is tug called by another name: it runs `tug compose` (for scripts
# written for docker-compose v1).
ln -sfn "$dest" /usr/local/bin/tug-compose

# The default image, in the default state root (or $TUG_ROOT).
if ! tug image inspect busybox:latest >/dev/null 2>&1; then
  log "making the busybox image"
  TUG="$bin" bash "$repo/images/busybox/build.sh" busybox:latest >/dev/null
fi
log "ready: $(tug --version)"
