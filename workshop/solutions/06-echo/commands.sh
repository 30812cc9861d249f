#!/usr/bin/env bash
# 06-echo, solved: both of the relay's ports published, each on the same host port.
tug run -d --name echo -p 45678:45678 -p 45679:45679 busybox sh -c 'nc -lp 45678 | nc -lp 45679'
