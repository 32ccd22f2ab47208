# The images of both services and of the operator console, from one build of the Cargo
# workspace (the repository root is the context). One builder compiles the three binaries;
# each is a target of its own:
#   docker build --target customer-service -t billing-system/customer-service .
#   docker build --target invoice-service -t billing-system/invoice-service .
#   docker build --target console -t billing-system/console .
# or `docker compose build`, which builds the three targets from this file.

ARG RUST_VERSION=1.95

# ---------------------------------------------------------------------------
# Planner: the workspace's skeleton, i.e. the root manifest, the lock file and
# every member's Cargo.toml with stub sources. It changes only when a manifest
# or the lock file does, so the dependency layer below stays cached across
# source edits (COPY --from is cached by content). Members are the top-level
# directories holding a Cargo.toml; a new member needs no change here.
# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS planner
WORKDIR /src
COPY . .
RUN set -eux; \
    mkdir -p /skeleton; \
    cp Cargo.toml Cargo.lock /skeleton/; \
    for manifest in */Cargo.toml; do \
        crate="$(dirname "$manifest")"; \
        mkdir -p "/skeleton/$crate/src"; \
        cp "$manifest" "/skeleton/$crate/Cargo.toml"; \
        printf '' > "/skeleton/$crate/src/lib.rs"; \
        printf 'fn main() {}\n' > "/skeleton/$crate/src/main.rs"; \
    done

# ---------------------------------------------------------------------------
# Builder: full Debian bookworm Rust image (gcc builds the bundled SQLite of
# rusqlite and ring). Same glibc (2.36) as the distroless runtime below.
# The three binaries (both services and the console) in one cargo invocation,
# so the dependencies they share are compiled once. `-p` selects the packages:
# the workspace's default member is all-in-one, in which `--bin` alone would
# look for them.
# ---------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    CARGO_NET_RETRY=10

# 1) Dependencies only, against the skeleton: rebuilt when a manifest or
#    Cargo.lock changes, cached otherwise. The stubs are removed afterwards so
#    none of them survives next to the real sources.
COPY --from=planner /skeleton/ ./
RUN set -eux; \
    cargo build --release --locked -p customer-service -p invoice-service -p console \
        --bin customer-service --bin invoice-service --bin console; \
    rm -f ./*/src/lib.rs ./*/src/main.rs

# 2) The real sources. COPY keeps the files' modification times, which may be
#    older than the stub build: touch them so cargo rebuilds the workspace
#    crates (only those the three binaries depend on are compiled).
#    What each target copies, under /out/SERVICE: bin/ holds the binary (the
#    sample data for SEED_SAMPLE_DATA=true, and the console's pages and assets,
#    are compiled into it) and `service`, a link to it at the one path the
#    runtime's HEALTHCHECK and ENTRYPOINT name; data/ (the two services only) is
#    the empty, writable home of the embedded store (DATA_DIR, used only when
#    MONGODB_URI is unset; the console keeps no state). /out/runtime holds the
#    one library the binaries need beyond glibc: libgcc_s (unwinding), from this
#    same bookworm.
COPY . .
RUN set -eux; \
    find . -path ./target -prune -o -name '*.rs' -exec touch {} +; \
    cargo build --release --locked -p customer-service -p invoice-service -p console \
        --bin customer-service --bin invoice-service --bin console; \
    for service in customer-service invoice-service console; do \
        install -D -m 0755 "target/release/$service" "/out/$service/bin/$service"; \
        ln -s "$service" "/out/$service/bin/service"; \
    done; \
    mkdir -p /out/customer-service/data /out/invoice-service/data; \
    install -D -m 0644 "$(gcc -print-file-name=libgcc_s.so.1)" \
        "/out/runtime/usr/lib/$(gcc -dumpmachine)/libgcc_s.so.1"

# ---------------------------------------------------------------------------
# Runtime, the base of the three targets: distroless base-nossl (glibc, CA
# certificates, tzdata; no shell, no package manager) plus libgcc_s, running as
# the unprivileged `nonroot` user (65532). distroless/cc would add libssl,
# libstdc++ and libgomp, which the binaries never load (TLS is rustls): 9 MB per
# image for nothing. No shell or curl either: the HEALTHCHECK is the binary
# asking its own GET /ready (the console's answers once it listens). Exec form expands
# no variables, so both name the binary by the link every target installs
# (/usr/local/bin/service).
# ---------------------------------------------------------------------------
FROM gcr.io/distroless/base-nossl-debian12:nonroot AS runtime
LABEL org.opencontainers.image.licenses="MIT"
COPY --from=builder /out/runtime/ /
ENV RUST_LOG=info
USER 65532:65532
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/service", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/service"]

# ---------------------------------------------------------------------------
# customer-service: `docker build --target customer-service .`
# ---------------------------------------------------------------------------
FROM runtime AS customer-service
LABEL org.opencontainers.image.title="customer-service" \
      org.opencontainers.image.description="Customers of the billing system (axum, MongoDB)."
COPY --from=builder /out/customer-service/bin/ /usr/local/bin/
COPY --from=builder --chown=65532:65532 /out/customer-service/data /var/lib/customer-service
ENV PORT=5000 DATA_DIR=/var/lib/customer-service
VOLUME ["/var/lib/customer-service"]
EXPOSE 5000

# ---------------------------------------------------------------------------
# console: `docker build --target console .`, the operator console: pages
# over the two services' public HTTP APIs (CUSTOMER_SERVICE_URL,
# INVOICE_SERVICE_URL); no database, no volume. CONSOLE_SESSION_KEY (32+
# characters) keeps sessions across restarts and replicas; without it each
# start makes a random key.
# ---------------------------------------------------------------------------
FROM runtime AS console
LABEL org.opencontainers.image.title="console" \
      org.opencontainers.image.description="Operator console of the billing system (server-rendered pages over both services' APIs)."
COPY --from=builder /out/console/bin/ /usr/local/bin/
ENV PORT=5002
EXPOSE 5002

# ---------------------------------------------------------------------------
# invoice-service: `docker build --target invoice-service .` (also the last
# stage, so the image a plain `docker build .` makes)
# ---------------------------------------------------------------------------
FROM runtime AS invoice-service
LABEL org.opencontainers.image.title="invoice-service" \
      org.opencontainers.image.description="Invoices of the billing system (axum, MongoDB, Redis cache)."
COPY --from=builder /out/invoice-service/bin/ /usr/local/bin/
COPY --from=builder --chown=65532:65532 /out/invoice-service/data /var/lib/invoice-service
ENV PORT=5001 DATA_DIR=/var/lib/invoice-service
VOLUME ["/var/lib/invoice-service"]
EXPOSE 5001

