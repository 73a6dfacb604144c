#!/bin/sh
# Starts nats-server for docker-compose.yml. deploy/nats/nats.conf refers to each service's
# password as an environment variable; this reads them from the files the `secrets` service wrote,
# so that they appear neither in docker-compose.yml nor in `docker inspect`.
set -eu

# Overridable only so that scripts/check-containers.sh can run this script outside a container.
readonly secrets="${VIGIL_SECRETS_DIR:-/run/vigil/secrets}"
readonly config="${NATS_CONFIG:-/etc/vigil/nats/nats.conf}"

for service in daemon writer reader client; do
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
export NATS_MAX_CONNECTIONS="${NATS_MAX_CONNECTIONS:-1024}"
export NATS_MAX_FILE_STORE="${NATS_MAX_FILE_STORE:-4GB}"

exec nats-server --config "$config" "$@"
