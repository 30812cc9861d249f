#!/usr/bin/env bash
# 04-commit, solved: commit turns the container's changes into a layer of a new image.
tug run --name maker busybox sh -c 'echo "made by me" > /greeting.txt'
tug commit maker mine:1
