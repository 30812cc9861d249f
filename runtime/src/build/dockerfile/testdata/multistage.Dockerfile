# syntax=docker/dockerfile:1
# check=error=true
ARG GO_VERSION=1.22
ARG BASE=debian:bookworm-slim

FROM golang:${GO_VERSION} AS Build
ARG VERSION
WORKDIR /src
COPY --link go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go mod download
COPY . .
RUN CGO_ENABLED=0 go build -ldflags "-X main.version=${VERSION}" -o /out/app ./cmd/app

FROM ${BASE} AS runtime
LABEL org.opencontainers.image.title="app" \
      org.opencontainers.image.version=$VERSION maintainer='ops team'
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build --chown=app:app --chmod=0755 /out/app /usr/local/bin/app
USER app:app
EXPOSE 8080/tcp 9090/udp
VOLUME ["/data", "/cache"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/app", "health"]
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/app"]
CMD ["serve", "--port", "8080"]
