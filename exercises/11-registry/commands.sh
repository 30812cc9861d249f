#!/usr/bin/env bash
# Exercise 11-registry (see README.md): the grader runs this file with bash in a fresh
# state root, `tug` on PATH, busybox the only image, and $REGISTRY set to the registry.
set -e
tug run --name maker busybox true
tug commit --change 'CMD ["echo", "hello from the registry"]' maker greeter:1

# TODO: put greeter:1 into the registry at $REGISTRY, as greeter:1.
