#!/bin/sh
# Run by the influxdb image's entrypoint once, on the first start, right after its setup created
# the organisation and the bucket (and exported their IDs). Gives the writer a token that can only
# write the bucket and the reader one that can only read it, each in a volume that only that
# service mounts (read by the services through INFLUX_TOKEN_FILE). The admin token stays inside
# InfluxDB's own volumes.
set -eu

: "${DOCKER_INFLUXDB_INIT_ORG_ID:?set by the influxdb image after setup}"
: "${DOCKER_INFLUXDB_INIT_BUCKET_ID:?set by the influxdb image after setup}"
: "${DOCKER_INFLUXDB_INIT_BUCKET:?set in docker-compose.yml}"
: "${VIGIL_WRITER_TOKEN_FILE:?set in docker-compose.yml}"
: "${VIGIL_READER_TOKEN_FILE:?set in docker-compose.yml}"

# create_token DESCRIPTION PERMISSION_FLAG FILE
create_token() {
  json=$(influx auth create \
    --org-id "$DOCKER_INFLUXDB_INIT_ORG_ID" \
    --description "$1" \
    "$2" "$DOCKER_INFLUXDB_INIT_BUCKET_ID" \
    --json)
  token=$(printf '%s\n' "$json" | sed -n 's/.*"token":[[:space:]]*"\([^"]*\)".*/\1/p')
  if [ -z "$token" ]; then
    echo "vigil: influx auth create returned no token for '$1'" >&2
    exit 1
  fi
  rm -f "$3.tmp"
  (umask 077 && printf '%s' "$token" >"$3.tmp")
  mv -f "$3.tmp" "$3"
  echo "vigil: created '$1' in $3"
}

create_token "vigil writer: write-only on bucket $DOCKER_INFLUXDB_INIT_BUCKET" --write-bucket "$VIGIL_WRITER_TOKEN_FILE"
create_token "vigil reader: read-only on bucket $DOCKER_INFLUXDB_INIT_BUCKET" --read-bucket "$VIGIL_READER_TOKEN_FILE"
