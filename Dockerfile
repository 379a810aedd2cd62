# syntax=docker/dockerfile:1
# Build:  docker build -t headless-dns .
# Run on the demo manifests (no cluster needed; without manifests or a kubeconfig the
# server has nothing to serve, and says so):
#   docker run --rm -p 5353:5353/udp -p 5353:5353/tcp -p 8080:8080 \
#     -v "$PWD/config/demo:/manifests:ro" headless-dns \
#     serve --manifests /manifests --listen 0.0.0.0:5353 --admin 0.0.0.0:8080
#   dig @127.0.0.1 -p 5353 +short web-0.nginx.default.svc.cluster.local
# In a cluster, deploy/ runs it with its ServiceAccount (kubectl apply -k deploy/).

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked --package headless-dns --bin headless-dns

# distroless/cc: glibc + libgcc for a Rust binary, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /src/target/dist/headless-dns /usr/local/bin/headless-dns
USER 65532:65532
EXPOSE 53/udp 53/tcp 8080/tcp
ENTRYPOINT ["/usr/local/bin/headless-dns"]
CMD ["serve"]
