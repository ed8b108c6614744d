# syntax=docker/dockerfile:1
# Build: a static binary (pure-Go SQLite, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/rookery ./cmd/rookery \
 && mkdir -p /out/data

# Run: distroless static, non-root. No shell and no curl: the health check
# is the binary itself.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rookery /usr/local/bin/rookery
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV DATA_DIR=/data HTTP_PORT=8080
VOLUME ["/data"]
EXPOSE 8080 50051
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["/usr/local/bin/rookery", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/rookery"]
CMD ["serve"]
