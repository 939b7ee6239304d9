# syntax=docker/dockerfile:1
#
# The published cortex image: a multi-stage build, a distroless runtime
# (glibc, CA certificates, no shell, no package manager) running as the
# non-root user 65532.
#
#   docker build -t ghcr.io/OWNER/cortex:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# It needs BuildKit (the default builder since Docker 23) and a registry to
# pull its two base images from. On a machine without a registry, build the
# local image instead: scripts/build-image.sh (`make image`) assembles the
# same layout from a release binary and imports it without pulling anything.
# (This file was written on such a machine and has not been built there;
# the local image with the same layout is what scripts/smoke-image.sh tests.)
# See docs/image.md.

# Keep in step with rust-toolchain.toml (scripts/build-image.sh checks it).
ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-bookworm AS builder
ARG RUST_VERSION
# rust-toolchain.toml also lists rustfmt and clippy; naming the toolchain
# makes rustup use the image's own one as it is instead of fetching
# components a release build does not need.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION} \
    CARGO_TERM_COLOR=never
WORKDIR /src
COPY . .
# The registry and target directories are cache mounts, so a rebuild reuses
# compiled dependencies; the binary is copied out of the cache in the same
# step. protoc is vendored (protoc-bin-vendored), so nothing else is needed.
# The release profile's line tables (~145 MB) are stripped; symbols stay, so
# a backtrace still names functions.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --locked --release -p cortex-daemon --bin cortex \
 && install -D -m 0755 target/release/cortex /out/bin/cortex \
 && objcopy --strip-debug /out/bin/cortex \
 && install -d -m 0700 /out/lib/cortex

# Bookworm's glibc in the builder matches Debian 12 in the runtime.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cortex" \
      org.opencontainers.image.description="Cortex: a fault-tolerant runtime for teams of AI agents (daemon, dev cluster, admin API and CLI)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
# The binary stays owned by root, so the daemon cannot replace it.
COPY --from=builder /out/bin/cortex /usr/local/bin/cortex
# The daemon's default --data-dir, owned by the runtime user (a named volume
# mounted there starts with this owner and mode).
COPY --from=builder --chown=65532:65532 /out/lib/ /var/lib/
USER 65532:65532
WORKDIR /home/nonroot
# 7700: admin API, /healthz, /readyz, /metrics. 7710: Raft (gRPC).
EXPOSE 7700 7710
ENTRYPOINT ["/usr/local/bin/cortex"]
CMD ["--help"]
