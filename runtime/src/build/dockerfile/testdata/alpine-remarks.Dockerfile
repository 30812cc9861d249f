FROM alpine               # Imports all alpine layers

ENV VARIABLE=1

RUN apk add --no-cache \  # Adds layer
      gcc \
      musl-devel

WORKDIR /build

COPY app.c .              # Adds layer

RUN gcc app.c -o app      # Adds layer

RUN rm /build/app.c       # Adds layer
