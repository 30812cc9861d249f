#!/usr/bin/env bash
# 13-under-the-hood, solved: inspect gives the host's PID; /proc/PID/cgroup names the
# process's cgroup; the cgroup's limit file holds the limit the kernel enforces.
pid=$(tug inspect -f '{{ .State.Pid }}' box)
echo "$pid" > answer.txt
cg=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
if [ -n "$cg" ]; then
  # cgroup v1 (or hybrid): the memory controller's own hierarchy.
  cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes" >> answer.txt
else
  # cgroup v2: one hierarchy, the line "0::PATH".
  cg=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
  cat "/sys/fs/cgroup$cg/memory.max" >> answer.txt
fi
