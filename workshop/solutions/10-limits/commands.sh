#!/usr/bin/env bash
# 10-limits, solved: 16 MB of memory (and as much swap) for a process that needs 64.
tug run --name hog --memory 16m busybox sh -c 'head -c 64m /dev/zero | tail -n 10 > /dev/null'
