#!/bin/sh
# The official image's conventions: `redis-server [ARGS]` runs with no config file,
# listening everywhere, protected mode off (the container's network is the boundary);
# REDIS_ARGS is appended. Any other command runs as it is.
set -e
if [ "${1#-}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  shift
  # shellcheck disable=SC2086 # REDIS_ARGS is a list of words, as redis-stack reads it
  exec setpriv --reuid=redis --regid=redis --init-groups \
    redis-server --bind '* -::*' --protected-mode no --save '' --appendonly no \
    --dir /data "$@" ${REDIS_ARGS:-}
fi
exec "$@"
