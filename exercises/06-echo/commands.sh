#!/usr/bin/env bash
# Exercise 06-echo (see README.md): the grader runs this file with bash in a fresh state
# root, `tug` on PATH and busybox the only image. Change the command below.
tug run -d --name echo busybox sh -c 'nc -lp 45678 | nc -lp 45679'
