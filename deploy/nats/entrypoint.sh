#!/bin/sh
# Starts nats-server for docker-compose.yml. deploy/nats/nats.conf refers to each service's
# password as an environment variable; this reads them from the files the `secrets` service wrote,
# so that they appear neither in docker-compose.yml nor in `docker inspect`.
set -eu

# Overridable only so that scripts/check-containers.sh can run this script outside a container.
readonly secrets="${VIGIL_SECRETS_DIR:-/run/vigil/secrets}"
readonly config="${NATS_CONFIG:-/etc/vigil/nats/nats.conf}"

for service in setup daemon writer reader client gateway; do
  file="$secrets/$service/nats-password"
  if [ ! -s "$file" ]; then
    echo "nats: $file is missing or empty; the secrets service must run first" >&2
    exit 1
  fi
  name="NATS_$(printf '%s' "$service" | tr '[:lower:]' '[:upper:]')_PASSWORD"
  export "$name=$(cat "$file")"
done

# Defaults for the settings nats.conf reads from the environment; docker-compose.yml passes the
# ones set in .env.
export NATS_STORE_DIR="${NATS_STORE_DIR:-/data/jetstream}"
export NATS_MONITOR_LISTEN="${NATS_MONITOR_LISTEN:-127.0.0.1:8222}"
export NATS_MAX_FILE_STORE="${NATS_MAX_FILE_STORE:-4GB}"
export NATS_MAX_PAYLOAD="${NATS_MAX_PAYLOAD:-8MB}"
export NATS_INGEST_MAX_PAYLOAD="${NATS_INGEST_MAX_PAYLOAD:-64KB}"
export NATS_MAX_SUBSCRIPTIONS="${NATS_MAX_SUBSCRIPTIONS:-128}"
export NATS_MAX_CONNECTIONS="${NATS_MAX_CONNECTIONS:-1024}"
export NATS_PRODUCERS_MAX_CONNECTIONS="${NATS_PRODUCERS_MAX_CONNECTIONS:-64}"
export NATS_INGEST_MAX_CONNECTIONS="${NATS_INGEST_MAX_CONNECTIONS:-8}"
export NATS_WRITERS_MAX_CONNECTIONS="${NATS_WRITERS_MAX_CONNECTIONS:-64}"
export NATS_GATEWAY_MAX_CONNECTIONS="${NATS_GATEWAY_MAX_CONNECTIONS:-64}"
export NATS_GATEWAY_MAX_FILE_STORE="${NATS_GATEWAY_MAX_FILE_STORE:-256MB}"
export NATS_QUERY_MAX_CONNECTIONS="${NATS_QUERY_MAX_CONNECTIONS:-64}"
export NATS_CLIENTS_MAX_CONNECTIONS="${NATS_CLIENTS_MAX_CONNECTIONS:-512}"
# Read by nats-tls.conf only (deploy/compose.tls.yml).
export NATS_TLS_CERT_FILE="${NATS_TLS_CERT_FILE:-/run/vigil/tls/server.pem}"
export NATS_TLS_KEY_FILE="${NATS_TLS_KEY_FILE:-/run/vigil/tls/server-key.pem}"

# Each account's share of the connections must fit in the total, or one account flooding the
# server with connections could still lock the others out.
shares=$((NATS_PRODUCERS_MAX_CONNECTIONS + NATS_INGEST_MAX_CONNECTIONS + NATS_WRITERS_MAX_CONNECTIONS + NATS_QUERY_MAX_CONNECTIONS + NATS_CLIENTS_MAX_CONNECTIONS + NATS_GATEWAY_MAX_CONNECTIONS))
if [ "$shares" -gt "$NATS_MAX_CONNECTIONS" ]; then
  echo "nats: NATS_PRODUCERS_, NATS_INGEST_, NATS_WRITERS_, NATS_QUERY_, NATS_CLIENTS_ and NATS_GATEWAY_MAX_CONNECTIONS add up to $shares, more than NATS_MAX_CONNECTIONS ($NATS_MAX_CONNECTIONS)" >&2
  exit 1
fi

# NATS_SERVER_BIN: overridable only so that the tests run the nats-server version compose pins.
exec "${NATS_SERVER_BIN:-nats-server}" --config "$config" "$@"
