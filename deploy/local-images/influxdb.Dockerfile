# influxd 2.x and the influx CLI, built from their Go modules at the version docker-compose.yml
# pins, on the local Debian root filesystem (scripts/build-images.sh). Like the official image, the
# data and config folders belong to uid 1000, so that new named volumes mounted there do too.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY influxd influx /usr/local/bin/
RUN mkdir -p /var/lib/influxdb2 /etc/influxdb2 \
    && chown 1000:1000 /var/lib/influxdb2 /etc/influxdb2 \
    && influxd version && influx version
ENV INFLUXD_BOLT_PATH=/var/lib/influxdb2/influxd.bolt \
    INFLUXD_ENGINE_PATH=/var/lib/influxdb2/engine
EXPOSE 8086
CMD ["influxd"]
