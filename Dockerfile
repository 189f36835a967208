# wsbench in a container, for distributed runs (docs/distributed.md,
# deploy/kubernetes): docker build -t wsbench:dev .
#
# Build stage: a static binary (no cgo: no libc to match at run time).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.1.0-dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/wsbench/wsbench/report.Version=${VERSION}" \
      -o /out/wsbench ./cmd/wsbench

# Runtime stage: Alpine rather than a distroless image only because
# kubectl cp (how the guide fetches the coordinator's reports) needs tar
# in the container; the binary itself needs nothing from it.
FROM alpine:3.22
RUN adduser -D -H -u 65532 -s /sbin/nologin wsbench && mkdir /reports && chown 65532:65532 /reports
COPY --from=build /out/wsbench /usr/local/bin/wsbench
# Numeric, so Kubernetes can check runAsNonRoot.
USER 65532:65532
WORKDIR /reports
ENTRYPOINT ["/usr/local/bin/wsbench"]
CMD ["--help"]
