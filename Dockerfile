# syntax=docker/dockerfile:1
# The release image: the binary built beforehand, copied into a minimal base (as Vector's
# release images are made), so the image holds exactly the binary that was tested.
#
#   cargo build --release --locked --bin cw-sidecar
#   docker build -t cw-sidecar .        # or: podman build --format docker -t cw-sidecar .
#
# The binary links glibc dynamically: build it on Debian 12 (bookworm, glibc 2.36) or older,
# or inside rust:1-slim-bookworm (`docker run --rm -v "$PWD":/src -w /src
# rust:1-slim-bookworm cargo build --release --locked --bin cw-sidecar`), so that it runs on
# the base's glibc. `.dockerignore` sends only the binary and the spool directory as context.
#
# The base is an argument so that machines that cannot pull it build against a stand-in
# (scripts/test-image.sh builds one from scratch with the binary's libraries, the CA bundle
# and the user below); its default is the public distroless image with glibc, libgcc and CA
# certificates, and no shell.
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
FROM ${RUNTIME_IMAGE}

COPY target/release/cw-sidecar /usr/local/bin/cw-sidecar
# Where a volume for the disk spool is mounted (CW_SIDECAR_SPOOL__DIR): owned by the user the
# sidecar runs as, so a volume mounted there is writable (Docker, podman and ECS copy the
# ownership of the image's directory into a new volume). The parents first, as root.
COPY docker/empty/ /var/lib/cw-sidecar/
COPY --chown=65532:65532 docker/empty/ /var/lib/cw-sidecar/spool/
# distroless's `nonroot` user, by number so that no /etc/passwd lookup is needed.
USER 65532:65532
# It listens on 127.0.0.1:25889 (the default): the containers of one ECS awsvpc task or one
# Kubernetes pod share a network namespace, so the application reaches it there and nothing
# else can. Only where the application is in another namespace (ECS bridge mode,
# `docker run -p`) set CW_SIDECAR_LISTEN=0.0.0.0:25889, best with an auth token.
EXPOSE 25889
# Asks GET /healthz on the configured `listen` (CW_SIDECAR_LISTEN or the config file: the
# check does not see the main process's flags).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/cw-sidecar", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/cw-sidecar"]
