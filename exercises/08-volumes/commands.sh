#!/usr/bin/env bash
# Exercise 08-volumes (see README.md): the grader runs this file with bash in a fresh
# state root, `tug` on PATH and busybox the only image. Change the commands below.
tug run --name writer busybox sh -c 'mkdir -p /data && echo "written before rm" > /data/note.txt'
tug rm writer
