#!/usr/bin/env bash
# 11-registry, solved: the registry's address is part of the image's name; push sends it.
set -e
tug run --name maker busybox true
tug commit --change 'CMD ["echo", "hello from the registry"]' maker greeter:1
tug tag greeter:1 "$REGISTRY/greeter:1"
tug push "$REGISTRY/greeter:1"
