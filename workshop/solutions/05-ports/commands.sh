#!/usr/bin/env bash
# 05-ports, solved: -p HOST:CONTAINER publishes the container's port 80 on the host's 48080.
tug run -d --name site -p 48080:80 busybox sh -c \
  'echo "hello through a port" > /var/www/index.html && exec httpd -f -p 80 -h /var/www'
