#!/usr/bin/env bash
# 02-detached, solved: -d returns at once, --name names it, and the shell keeps the
# container alive after its first line.
tug run -d --name web busybox sh -c 'echo "web is up"; exec sleep 3600'
