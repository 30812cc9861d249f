# Imports all alpine layers
FROM alpine

ENV VARIABLE=1

# Adds a layer
RUN apk add --no-cache \
      gcc \
      # comments inside a continuation are dropped
      musl-dev

WORKDIR /build

COPY app.c .

RUN gcc app.c -o app

RUN rm /build/app.c
