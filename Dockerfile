# The `strata` binary in a small Debian image. Used by infra/local/compose.yaml; on its own:
#
#   docker build -t strata .
#   docker run --rm -p 127.0.0.1:9090:9090 strata serve --listen 0.0.0.0:9090
#
# (that serves over the embedded local store in /var/lib/strata/data; pass --store
# s3://bucket/prefix and the AWS_* variables for S3: docs/local.md). Plain `docker build`
# features only, so that docker-compose 1.x's builder and BuildKit both take it.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin strata \
    && install -m 0755 target/release/strata /usr/local/bin/strata

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: TLS to S3 (rustls with the system's roots).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/strata --create-home strata
COPY --from=build /usr/local/bin/strata /usr/local/bin/strata
USER strata
WORKDIR /var/lib/strata
EXPOSE 9090
ENTRYPOINT ["strata"]
CMD ["serve", "--listen", "0.0.0.0:9090"]
