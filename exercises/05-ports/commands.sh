#!/usr/bin/env bash
# Exercise 05-ports (see README.md): the grader runs this file with bash in a fresh state
# root, `tug` on PATH and busybox the only image. Change the command below.
tug run -d --name site busybox sh -c \
  'echo "hello through a port" > /var/www/index.html && exec httpd -f -p 80 -h /var/www'
