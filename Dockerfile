# syntax=docker/dockerfile:1
# The manager image (controllers and gateway; flags choose which run):
#
#   docker build --build-arg VERSION=v0.1.0 -t ghcr.io/redflag-io/redflag-manager:v0.1.0 .
#
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 ...
# The Go build runs on the builder's own platform and cross-compiles, which is
# far faster than building under emulation.
#
# Not built by the tests: the machines this repository is developed and
# tested on reach no container registry, so neither base image can be pulled
# there. The chart and kustomize tests check the manifests that run it.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS=linux
ARG TARGETARCH
# The release version, as `make build VERSION=...` sets it.
ARG VERSION=v0.0.0-dev
WORKDIR /src
# Modules first, so a source change reuses the downloaded modules' layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# Only what the manager is built from (main.go imports api/, controllers/ and
# internal/); .dockerignore keeps everything else out of the context.
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/
# The install script and systemd unit the gateway serves are embedded from packaging/.
COPY packaging/ packaging/
# Static (CGO off) so it runs on distroless/static; -trimpath and the version
# flags match the Makefile's build.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags "-s -w -X github.com/redflag-io/redflag/internal/version.Version=${VERSION}" \
      -o /out/redflag-manager .

# No shell, no package manager: just CA certificates, tzdata (the rollout
# windows name IANA time zones) and the binary.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/redflag-manager /redflag-manager
# nonroot (65532), as the chart's runAsUser and runAsNonRoot expect.
USER 65532:65532
ENTRYPOINT ["/redflag-manager"]
