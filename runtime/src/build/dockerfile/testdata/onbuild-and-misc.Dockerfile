FROM busybox AS base
MAINTAINER Jane Doe <jane@example.com>
SHELL ["/bin/sh", "-ec"]
ONBUILD COPY . /app/src
ONBUILD RUN make -C /app/src
ARG USER=nobody GROUP
ENV A=1 B="two words" C=three\ words
ENV OLD_STYLE value with spaces
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /tmp/
ADD --unpack=false --keep-git-dir files.tar.gz /opt/
HEALTHCHECK NONE
RUN --network=none --security=sandbox ["/bin/true"]
user root
cmd echo "lowercase keywords work"
