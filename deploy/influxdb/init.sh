#!/bin/sh
# The `influxdb-init` one-shot of docker-compose.yml: sets InfluxDB up on its first start and gives
# the influx-gate a token that can only write the bucket (and, on 2.x, delete from it: no scope
# writes without deleting, which is why the writer never holds it and reaches InfluxDB only through
# the gate) and the reader one that can only read it, each in a volume that only that service mounts
# (read through INFLUX_TOKEN_FILE). It runs on every `docker compose up` and does only what is
# missing, so a restart changes nothing. It uses nothing
# but the influx CLI and the InfluxDB HTTP API, so it runs the same on the official influxdb image
# and on the one scripts/build-images.sh builds; no image entrypoint does anything hidden.
set -eu

: "${INFLUX_HOST:?set in docker-compose.yml}"
: "${VIGIL_INFLUXDB_ORG:?set in docker-compose.yml}"
: "${VIGIL_INFLUXDB_BUCKET:?set in docker-compose.yml}"
: "${VIGIL_INFLUXDB_RETENTION:?set in docker-compose.yml}"
: "${VIGIL_INFLUXDB_ADMIN_USER:?set in docker-compose.yml}"
: "${VIGIL_INFLUXDB_SECRETS:?set in docker-compose.yml}"
: "${VIGIL_GATE_TOKEN_FILE:?set in docker-compose.yml}"
: "${VIGIL_READER_TOKEN_FILE:?set in docker-compose.yml}"
# The CLI keeps a config file; the root filesystem is read-only, /tmp is not.
export INFLUX_CONFIGS_PATH="${INFLUX_CONFIGS_PATH:-/tmp/influx-configs}"

INFLUX_TOKEN=$(cat "$VIGIL_INFLUXDB_SECRETS/admin-token")
export INFLUX_TOKEN
admin_password=$(cat "$VIGIL_INFLUXDB_SECRETS/admin-password")

# GET /api/v2/setup answers {"allowed": true} until the instance has been set up.
if wget -q -O - "$INFLUX_HOST/api/v2/setup" | grep -q '"allowed":[[:space:]]*true'; then
  influx setup --force \
    --username "$VIGIL_INFLUXDB_ADMIN_USER" --password "$admin_password" --token "$INFLUX_TOKEN" \
    --org "$VIGIL_INFLUXDB_ORG" --bucket "$VIGIL_INFLUXDB_BUCKET" --retention "$VIGIL_INFLUXDB_RETENTION" \
    >/dev/null
  echo "influxdb-init: set up organisation '$VIGIL_INFLUXDB_ORG' and bucket '$VIGIL_INFLUXDB_BUCKET'"
fi

bucket_id=$(influx bucket list --org "$VIGIL_INFLUXDB_ORG" --name "$VIGIL_INFLUXDB_BUCKET" --hide-headers |
  awk 'NR == 1 { print $1 }')
if [ -z "$bucket_id" ]; then
  echo "influxdb-init: bucket '$VIGIL_INFLUXDB_BUCKET' not found in organisation '$VIGIL_INFLUXDB_ORG'" >&2
  exit 1
fi

# ensure_token DESCRIPTION PERMISSION_FLAG FILE: creates the token unless FILE already holds one.
ensure_token() {
  if [ -s "$3" ]; then
    return 0
  fi
  json=$(influx auth create --org "$VIGIL_INFLUXDB_ORG" --description "$1" "$2" "$bucket_id" --json)
  token=$(printf '%s\n' "$json" | sed -n 's/.*"token":[[:space:]]*"\([^"]*\)".*/\1/p')
  if [ -z "$token" ]; then
    echo "influxdb-init: influx auth create returned no token for '$1'" >&2
    exit 1
  fi
  rm -f "$3.tmp"
  (umask 077 && printf '%s' "$token" >"$3.tmp")
  mv -f "$3.tmp" "$3"
  echo "influxdb-init: created '$1'"
}

ensure_token "vigil influx-gate: write-only on bucket $VIGIL_INFLUXDB_BUCKET" --write-bucket "$VIGIL_GATE_TOKEN_FILE"
ensure_token "vigil reader: read-only on bucket $VIGIL_INFLUXDB_BUCKET" --read-bucket "$VIGIL_READER_TOKEN_FILE"
echo "influxdb-init: done"
