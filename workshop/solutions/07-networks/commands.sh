#!/usr/bin/env bash
# 07-networks, solved: on a user network, every container's name resolves.
tug network create app
tug run -d --name server --network app busybox sh -c \
  'echo "pong from server" > /var/www/index.html && exec httpd -f -p 80 -h /var/www'
tug run --rm --network app busybox sh -c \
  'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 server 80'
