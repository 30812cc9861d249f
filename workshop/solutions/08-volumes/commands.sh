#!/usr/bin/env bash
# 08-volumes, solved: the note goes into the named volume, which outlives the container.
tug volume create notes
tug run --name writer -v notes:/data busybox sh -c 'echo "written before rm" > /data/note.txt'
tug rm writer
