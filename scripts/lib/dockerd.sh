# Docker's daemon for the benchmarks (sourced by bench-api.sh, bench-compose.sh and
# bench-testcontainers.sh): Debian's docker.io, run with roots, socket and network
# namespace of its own, so it touches neither the host's network nor another daemon.
# Set before calling: ns (the netns), dstate (its data dir), drun (its run dir); dsock
# is set here. dockerd_pid is set once it runs; dockerd_stop ends it.

dsock="unix://$drun/docker.sock"
dockerd_pid=

# Installs Debian's docker.io (and the packages named) when dockerd is missing, with apt
# told not to start the daemon on the host's own network and roots.
dockerd_install() {
  command -v dockerd >/dev/null && { [ $# -eq 0 ] || command -v "$1" >/dev/null; } && return
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io "$@" >/dev/null || true
  rm -f /usr/sbin/policy-rc.d
}

# Starts dockerd and waits for its socket; then gives it each image named (from tug:
# `$tug save | docker load`, offline) that it does not have. Fails (1) if it cannot run.
dockerd_start() {
  command -v dockerd >/dev/null || return 1
  mkdir -p "$dstate" "$drun"
  ip netns add "$ns" 2>/dev/null || true
  ip netns exec "$ns" ip link set lo up
  # nsenter, not `ip netns exec`: that one remounts /sys, and dockerd finds no cgroups.
  nsenter --net="/run/netns/$ns" dockerd --data-root "$dstate/root" --exec-root "$drun/exec" \
    --pidfile "$drun/dockerd.pid" -H "$dsock" --iptables=false \
    --log-level warn >"$dstate/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 300); do
    DOCKER_HOST=$dsock docker version >/dev/null 2>&1 && break
    sleep 0.1
  done
  DOCKER_HOST=$dsock docker version >/dev/null 2>&1 || { cat "$dstate/dockerd.log" >&2; return 1; }
  local image
  for image in "$@"; do
    DOCKER_HOST=$dsock docker image inspect "$image" >/dev/null 2>&1 ||
      "$tug" save "$image" | DOCKER_HOST=$dsock docker load >/dev/null
  done
}

# Removes dockerd's containers, ends it (by its pid) and removes its namespace and run
# dir; nothing when it was not started.
dockerd_stop() {
  [ -n "$dockerd_pid" ] || return 0
  local n
  for n in $(DOCKER_HOST=$dsock docker ps -aq 2>/dev/null); do
    DOCKER_HOST=$dsock docker rm -f "$n" >/dev/null 2>&1 || true
  done
  kill "$dockerd_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
  ip netns delete "$ns" 2>/dev/null || true
  rm -rf "$drun"
}
