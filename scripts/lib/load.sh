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
