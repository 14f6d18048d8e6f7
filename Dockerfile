# syntax=docker/dockerfile:1
# Build: a full Rust toolchain, reproducible from Cargo.lock.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin cw-sidecar && mkdir /spool

# Run: a small distroless image with CA certificates, as a non-root user, no shell or curl.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/cw-sidecar /usr/local/bin/cw-sidecar
# Where a volume for the disk spool is mounted (CW_SIDECAR_SPOOL__DIR): owned by the user the
# sidecar runs as, so a volume mounted there is writable (Docker and ECS copy the ownership of
# the image's directory into a new volume).
COPY --from=build --chown=nonroot:nonroot /spool /var/lib/cw-sidecar/spool
USER nonroot:nonroot
# It listens on 127.0.0.1:25889 (the default): the containers of one ECS awsvpc task or one
# Kubernetes pod share a network namespace, so the application reaches it there and nothing
# else can. Only where the application is in another namespace (ECS bridge mode,
# `docker run -p`) set CW_SIDECAR_LISTEN=0.0.0.0:25889, best with an auth token.
EXPOSE 25889
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/cw-sidecar", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/cw-sidecar"]
