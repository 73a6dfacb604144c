# nats-server, built from its Go module at the version docker-compose.yml pins, on the local Debian
# root filesystem (scripts/build-images.sh). docker-compose.yml supplies the entrypoint and config.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY nats-server /usr/local/bin/nats-server
RUN nats-server --version
EXPOSE 4222 8222
CMD ["nats-server"]
