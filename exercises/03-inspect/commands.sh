#!/usr/bin/env bash
# Exercise 03-inspect (see README.md): the grader runs this file with bash in a fresh state
# root, `tug` on PATH and busybox the only image.
tug run -d --name clock busybox sleep 3600

# TODO: write clock's start time, as its record has it, to answer.txt.
date > answer.txt
