#!/usr/bin/env bash
# 03-inspect, solved: inspect's Go-template format picks one field of the record.
tug run -d --name clock busybox sleep 3600
tug inspect -f '{{ .State.StartedAt }}' clock > answer.txt
