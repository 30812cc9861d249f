#!/usr/bin/env bash
# Exercise 10-limits (see README.md): the grader runs this file with bash in a fresh state
# root, `tug` on PATH and busybox the only image. Change the command below.
# (tail keeps the last 10 lines; /dev/zero has no newline, so it keeps all 64 MB.)
tug run --name hog busybox sh -c 'head -c 64m /dev/zero | tail -n 10 > /dev/null'
