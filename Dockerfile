# The wpauthz image: a static binary on distroless "static", as UID 65532.
# `make image` builds the same image without Docker (hack/image), and
# test/image checks that this file and that program agree.
#
#   docker build -t ghcr.io/wpauthz/wpauthz:$(cat VERSION) .
#
# Keep VERSION in step with the VERSION file (test/image checks it).
ARG VERSION=0.1.0
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG VERSION
ARG TARGETOS=linux
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/wpauthz ./cmd/wpauthz

# Nothing but CA certificates, tzdata and /etc/passwd: no shell, no package
# manager. wpauthz writes nothing at runtime, so the root filesystem can be
# mounted read-only.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION
LABEL org.opencontainers.image.title="wpauthz" \
      org.opencontainers.image.description="Authorization for the WordPress REST API at the service mesh (Envoy ext_authz, nginx/Caddy/Traefik forward auth)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/wpauthz/wpauthz" \
      org.opencontainers.image.url="https://github.com/wpauthz/wpauthz"
COPY --from=build /out/wpauthz /wpauthz
USER 65532:65532
WORKDIR /
EXPOSE 9001 8080
ENTRYPOINT ["/wpauthz"]
CMD ["serve"]
