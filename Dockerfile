# syntax=docker/dockerfile:1
# Build:  docker build -t headless-dns .
# Run:    docker run --rm -p 5353:53/udp -p 5353:53/tcp -p 8080:8080 headless-dns serve

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked

# distroless/cc: glibc + libgcc for a Rust binary, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /src/target/dist/headless-dns /usr/local/bin/headless-dns
USER 65532:65532
EXPOSE 53/udp 53/tcp 8080/tcp
ENTRYPOINT ["/usr/local/bin/headless-dns"]
CMD ["serve"]
