#!/usr/bin/env bash
# Exercise 14-compose: the grader runs this file with bash in the exercise's folder, in a
# fresh state root, with `tug` on PATH. It brings compose.yaml up; change compose.yaml,
# not this file.
tug compose up -d --wait
