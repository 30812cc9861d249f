# How busy the machine is, for the benchmarks (sourced by bench-api.sh): the load average
# and the share of time that runnable tasks waited for a CPU over the last 10 s (PSI,
# /proc/pressure/cpu "some avg10"). A benchmark's ratio is only as good as its machine:
# with tasks waiting for a CPU, the same command's time can double at random.

# Prints one line: `machine load (LABEL): load average L; CPU pressure P%`, and a warning
# when the pressure is over 10%.
machine_load() {
  local load psi
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  psi=$(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null)
  echo "machine load ($1): load average $load; CPU pressure ${psi:-unknown}%"
  if [ -n "$psi" ] && awk -v p="$psi" 'BEGIN { exit !(p > 10) }'; then
    echo "  warning: tasks waited for a CPU ${psi}% of the last 10 s: the figures are noisy" >&2
  fi
}

# Waits (at most `$2` seconds, default 60) until the CPU pressure of the last 10 s is
# under 1%: the builds that come before a measurement (cargo, images) leave the machine
# busy for a while, and their tail would otherwise be in the first runs. Says how long it
# waited, or that it gave up.
wait_quiet() {
  local limit=${2:-60} waited=0 psi
  while :; do
    psi=$(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null)
    [ -z "$psi" ] && return 0
    awk -v p="$psi" 'BEGIN { exit !(p < 1) }' && break
    if [ "$waited" -ge "$limit" ]; then
      echo "machine still busy before $1 after ${limit} s (CPU pressure ${psi}%)" >&2
      return 0
    fi
    sleep 1
    waited=$((waited + 1))
  done
  [ "$waited" -gt 0 ] && echo "waited ${waited} s for a quiet machine before $1"
  return 0
}
