#!/usr/bin/env bash
# 01-run, solved: --rm removes the container as soon as it ends.
tug run --rm busybox echo "Hello from a container"
