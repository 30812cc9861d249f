#!/bin/sh
# One connection of a redis-like store: PING, GET key, SET key value, INCR key; the
# values are files under /data (a named volume).
read -r cmd key value
case "$cmd" in
PING) echo "+PONG" ;;
GET) if [ -f "/data/$key" ]; then cat "/data/$key"; else echo "\$-1"; fi ;;
SET) echo "$value" > "/data/$key" && echo "+OK" ;;
INCR)
    n=$(cat "/data/$key" 2>/dev/null || echo 0)
    n=$((n + 1))
    echo "$n" > "/data/$key"
    echo ":$n"
    ;;
*) echo "-ERR unknown command '$cmd'" ;;
esac
