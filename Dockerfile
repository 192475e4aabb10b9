# syntax=docker/dockerfile:1
#
# image-apiserver container image: a static binary on distroless, running as a non-root user.
#
#   make image IMAGE=registry.example.com/image-apiserver:v0.1.0
# or
#   docker build --build-arg VERSION=v0.1.0 --build-arg GIT_COMMIT=$(git rev-parse HEAD) \
#     --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t registry.example.com/image-apiserver:v0.1.0 .
#
# The build stage runs on the builder's platform and cross-compiles (CGO is off), so
# `docker buildx build --platform linux/amd64,linux/arm64` works without emulation.

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd/ cmd/
COPY pkg/ pkg/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# Stamped into our own version package (pkg/version): `image-apiserver --version` and the
# OpenAPI info. k8s.io/component-base/version gets the Kubernetes version of the k8s.io
# libraries in go.mod (k8s.io/apiserver v0.X.Y is Kubernetes v1.X.Y), which /version reports.
ARG VERSION=v0.1.0-dev
ARG KUBE_VERSION=v1.37.2
ARG GIT_COMMIT=unknown
ARG BUILD_DATE=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
      -ldflags "-s -w \
        -X github.com/image-apiserver/image-apiserver/pkg/version.gitVersion=${VERSION} \
        -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
        -X github.com/image-apiserver/image-apiserver/pkg/version.gitCommit=${GIT_COMMIT} \
        -X github.com/image-apiserver/image-apiserver/pkg/version.buildDate=${BUILD_DATE}" \
      -o /out/image-apiserver ./cmd/image-apiserver

# static: no libc, no shell, no package manager; :nonroot runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=v0.1.0-dev
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.title="image-apiserver" \
      org.opencontainers.image.description="OpenShift's image.openshift.io/v1 API (ImageStream, Image, ImageStreamMapping) as a Kubernetes aggregated API server" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/image-apiserver /usr/local/bin/image-apiserver
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/image-apiserver"]
