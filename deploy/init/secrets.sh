#!/bin/sh
# The `secrets` service of docker-compose.yml runs this once per `docker compose up`, before any
# other container starts. It creates every password the deployment needs, the first time only, in
# named volumes, so that a fresh clone starts without anyone writing secret files, and no secret is
# ever in an image, in docker-compose.yml, in `docker inspect` or in git.
#
# Each volume is mounted only into the containers that need what it holds:
#   /vigil/<service>   nats-password of setup, daemon, writer, reader, client, gateway (also
#                      mounted into nats)
#   /vigil/influxdb    admin-password and admin-token of InfluxDB's first-start setup
#   /vigil/writer-gate-token  gate-token: the writer's credential for the influx-gate (mounted
#                      into the writer and the gate only), not an InfluxDB token
# It also hands two more volumes to uid 1000, the user every other container runs as:
#   /vigil/gate-influx-token, /vigil/reader-influx-token    filled by InfluxDB's init script
#   /vigil/gateway-auth, /vigil/gateway-first-start         filled by the gateway's init
#   /vigil/nats-data                                        JetStream's store
# A new named volume belongs to root, so this is the one container that starts as root; it has no
# network and only the capabilities needed to create files and hand them over.
set -eu
umask 077

# Overridable only so that scripts/check-containers.sh can run this script outside a container.
readonly root="${VIGIL_SECRETS_ROOT:-/vigil}"
readonly owner="${VIGIL_SECRETS_OWNER:-1000:1000}"
created=0

# 40 characters of [A-Za-z0-9], the first a letter: nats-server reads an environment value that
# starts with a digit as a number, which it then refuses as a password.
random_secret() {
  first=$(head -c 256 /dev/urandom | tr -dc 'A-Za-z' | head -c 1)
  rest=$(head -c 2048 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 39)
  value="$first$rest"
  if [ "${#value}" -ne 40 ]; then
    echo "secrets: could not read enough randomness from /dev/urandom" >&2
    exit 1
  fi
  printf '%s' "$value"
}

# ensure_secret FILE: gives FILE a fresh random value unless it already holds one, so that a
# restart keeps the passwords that NATS and InfluxDB were set up with.
ensure_secret() {
  if [ -s "$1" ]; then
    return 0
  fi
  rm -f "$1.tmp"
  random_secret >"$1.tmp"
  mv -f "$1.tmp" "$1"
  created=$((created + 1))
}

for dir in setup daemon writer reader client gateway influxdb writer-gate-token gateway-auth gateway-first-start gate-influx-token reader-influx-token nats-data; do
  if [ ! -d "$root/$dir" ]; then
    echo "secrets: $root/$dir is not mounted; docker-compose.yml and this script disagree" >&2
    exit 1
  fi
done

for service in setup daemon writer reader client gateway; do
  ensure_secret "$root/$service/nats-password"
done
ensure_secret "$root/influxdb/admin-password"
ensure_secret "$root/influxdb/admin-token"
ensure_secret "$root/writer-gate-token/gate-token"

for dir in setup daemon writer reader client gateway influxdb writer-gate-token gateway-auth gateway-first-start gate-influx-token reader-influx-token nats-data; do
  chown -R "$owner" "$root/$dir"
  chmod 0700 "$root/$dir"
done
for file in "$root"/setup/* "$root"/daemon/* "$root"/writer/* "$root"/reader/* "$root"/client/* "$root"/gateway/* \
  "$root"/influxdb/* "$root"/writer-gate-token/*; do
  chmod 0400 "$file"
done

echo "secrets: $created created, the others kept"
