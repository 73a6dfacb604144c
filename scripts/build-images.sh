#!/usr/bin/env bash
# Builds, without any container registry, the base images that docker-compose.yml can run on
# instead of the official ones, from real parts:
#   vigil-local/debian:bookworm        Debian's minimal root filesystem (mmdebstrap), imported
#   vigil-local/node:<version>         this machine's Node and npm on it, `node` as uid 1000
#   vigil-local/nats:<pinned>          nats-server built from its Go module (build-servers.sh)
#   vigil-local/influxdb:<pinned>      influxd 2.x and the influx CLI, built from their Go modules
# An image that exists is kept, so a second run only checks. Prints the settings that point
# docker-compose.yml at these images (also written to $VIGIL_CACHE/local-images.env):
#   set -a; . ~/.cache/vigil/local-images.env; set +a; docker compose up --build
#
# Usage: scripts/build-images.sh [--print]   (--print: only the settings, building nothing)
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${VIGIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}
servers=$(bash scripts/build-servers.sh --print)
server_path() { printf '%s\n' "$servers" | sed -n "s/^$1=//p"; }
nats_version=$(basename "$(server_path NATS_SERVER_BIN)" | sed 's/^nats-server-//')
influxdb_version=$(basename "$(server_path INFLUXD2_BIN)" | sed 's/^influxd-//')
node_version=$(node -p process.versions.node)

readonly DEBIAN_IMAGE=vigil-local/debian:bookworm
readonly NODE_IMAGE=vigil-local/node:$node_version
readonly NATS_IMAGE=vigil-local/nats:$nats_version
readonly INFLUXDB_IMAGE=vigil-local/influxdb:$influxdb_version
settings="NODE_IMAGE=$NODE_IMAGE
NATS_IMAGE=$NATS_IMAGE
INFLUXDB_IMAGE=$INFLUXDB_IMAGE"

if [ "${1:-}" = "--print" ]; then
  printf '%s\n' "$settings"
  exit 0
fi

docker info >/dev/null 2>&1 || {
  echo "build-images: no Docker engine answers (docker info); start dockerd first" >&2
  exit 1
}
bash scripts/build-servers.sh >/dev/null

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# build_image TAG DOCKERFILE FILE...: builds TAG on the Debian image from a context holding FILEs.
# --pull=false: every base is local, and nothing may reach for a registry.
build_image() {
  local tag=$1 dockerfile=$2 context
  shift 2
  if have_image "$tag"; then
    echo "build-images: $tag is built"
    return 0
  fi
  echo "build-images: building $tag"
  context=$(mktemp -d)
  cp -r "$@" "$context/"
  DOCKER_BUILDKIT=1 docker build --pull=false --quiet --build-arg "BASE_IMAGE=$DEBIAN_IMAGE" \
    -f "$dockerfile" -t "$tag" "$context" >/dev/null
  rm -rf "$context"
}

if ! have_image "$DEBIAN_IMAGE"; then
  command -v mmdebstrap >/dev/null || {
    echo "build-images: needs mmdebstrap (apt-get install mmdebstrap)" >&2
    exit 1
  }
  echo "build-images: building $DEBIAN_IMAGE with mmdebstrap"
  rootfs=$(mktemp -d)
  # minbase: Debian's essential and required packages (a shell, coreutils, passwd); ca-certificates
  # for npm in the build stage, wget for the NATS health check.
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,wget --skip=output/dev \
    bookworm "$rootfs/rootfs.tar"
  docker import "$rootfs/rootfs.tar" "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
fi

build_image "$NODE_IMAGE" deploy/local-images/node.Dockerfile \
  "$(command -v node)" "$(npm root --global)/npm"
nats_dir=$(mktemp -d)
cp "$(server_path NATS_SERVER_BIN)" "$nats_dir/nats-server"
build_image "$NATS_IMAGE" deploy/local-images/nats.Dockerfile "$nats_dir/nats-server"
rm -rf "$nats_dir"
influx_dir=$(mktemp -d)
cp "$(server_path INFLUXD2_BIN)" "$influx_dir/influxd"
cp "$(server_path INFLUX_CLI_BIN)" "$influx_dir/influx"
build_image "$INFLUXDB_IMAGE" deploy/local-images/influxdb.Dockerfile "$influx_dir/influxd" "$influx_dir/influx"
rm -rf "$influx_dir"

mkdir -p "$cache"
printf '%s\n' "$settings" >"$cache/local-images.env"
printf '%s\n' "$settings"
