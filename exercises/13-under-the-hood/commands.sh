#!/usr/bin/env bash
# Exercise 13-under-the-hood (see README.md): the grader runs this file with bash in a
# fresh state root, `tug` on PATH, after it has started the container `box`.

# TODO: the host's PID of box's main process (this is the PID of this script's shell).
pid=$$
echo "$pid" > answer.txt

# TODO: box's memory limit in bytes, from its cgroup (see /proc/$pid/cgroup).
echo 0 >> answer.txt
