#!/usr/bin/env bash
# Exercise 07-networks (see README.md): the grader runs this file with bash in a fresh
# state root, `tug` on PATH and busybox the only image. Change the commands below.
tug run -d --name server busybox sh -c \
  'echo "pong from server" > /var/www/index.html && exec httpd -f -p 80 -h /var/www'
# The client: asks the server for its page by the server's name, with nc (HTTP by hand).
tug run --rm busybox sh -c \
  'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 server 80'
