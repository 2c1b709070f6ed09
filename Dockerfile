# The cdxs sync server. Multi-stage: build with the Rust toolchain, run on a slim Debian
# as an unprivileged user with its data in the /data volume.
#   docker build -t cdxs .
#   docker run -p 8765:8765 -v cdxs-data:/data cdxs
#   docker run --rm -i -v cdxs-data:/data cdxs server user add alice --password-stdin
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY examples examples
RUN cargo build --release --locked --bin cdxs

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin cdxs \
 && mkdir -p /data \
 && chown cdxs:cdxs /data \
 && chmod 0700 /data
COPY --from=build /src/target/release/cdxs /usr/local/bin/cdxs
USER cdxs
ENV CDXS_STATE_DIR=/data
VOLUME ["/data"]
EXPOSE 8765
ENTRYPOINT ["cdxs"]
CMD ["server", "run", "--bind", "0.0.0.0:8765", "--data", "/data/server.db"]
