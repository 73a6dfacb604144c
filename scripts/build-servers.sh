#!/usr/bin/env bash
# Builds, from their Go modules, the servers and tools at the versions users run, for the tests and
# for the local images (scripts/build-images.sh):
#   nats-server   the version docker-compose.yml pins (NATS_IMAGE)
#   influxd       the version docker-compose.yml pins (INFLUXDB_IMAGE); Flux needs Rust (cargo)
#   influx        the CLI that influxd's own go.mod requires
#   docker-compose, docker-buildx  Compose v2 and Buildx, built and installed as Docker CLI
#                   plugins only when the CLI has none (a Docker CLI from 23 on builds with BuildKit
#                   through buildx only; Compose builds through it)
#   telegraf      only with --peers: the peer `pnpm bench --peers` measures beside the writer (never in CI)
# Each binary lands in $VIGIL_CACHE/bin (default ~/.cache/vigil/bin) under a versioned name, so a
# second run skips what is built, and a new pin builds beside the old. Prints the paths at the end.
#
# Usage: scripts/build-servers.sh [--print] [--peers]
#   --print: only the paths, building nothing; --peers: Telegraf too
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${VIGIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}
bin=$cache/bin
readonly COMPOSE_VERSION=2.40.3
# The Buildx that this Compose release is built against.
readonly BUILDX_VERSION=0.29.1
# The newest release the Go module proxy serves (`go list -m -versions github.com/influxdata/telegraf`).
readonly TELEGRAF_VERSION=1.37.2

# pinned VAR IMAGE: the version in docker-compose.yml's `${VAR:-IMAGE:<version>-...}` default.
pinned() {
  local version
  version=$(sed -n "s/.*\${$1:-$2:\([0-9][0-9.]*\)-.*/\1/p" docker-compose.yml | head -n 1)
  if [ -z "$version" ]; then
    echo "build-servers: no default for $1 in docker-compose.yml" >&2
    exit 1
  fi
  printf '%s' "$version"
}
NATS_VERSION=$(pinned NATS_IMAGE nats)
INFLUXDB_VERSION=$(pinned INFLUXDB_IMAGE influxdb)
readonly NATS_VERSION INFLUXDB_VERSION

nats_server=$bin/nats-server-$NATS_VERSION
influxd=$bin/influxd-$INFLUXDB_VERSION
influx=$bin/influx-for-influxd-$INFLUXDB_VERSION
compose=$bin/docker-compose-$COMPOSE_VERSION
buildx=$bin/docker-buildx-$BUILDX_VERSION
telegraf=$bin/telegraf-$TELEGRAF_VERSION

print_paths() {
  echo "NATS_SERVER_BIN=$nats_server"
  echo "INFLUXD2_BIN=$influxd"
  echo "INFLUX_CLI_BIN=$influx"
  echo "DOCKER_COMPOSE_BIN=$compose"
  echo "DOCKER_BUILDX_BIN=$buildx"
  echo "TELEGRAF_BIN=$telegraf"
}
print_only=false
peers=false
for arg in "$@"; do
  case $arg in
    --print) print_only=true ;;
    --peers) peers=true ;;
    *)
      echo "build-servers: unknown option $arg" >&2
      exit 2
      ;;
  esac
done
if $print_only; then
  print_paths
  exit 0
fi

# module_dir MODULE@VERSION: the module's source in the Go module cache, downloading it if needed.
module_dir() {
  go mod download -json "$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);if(m.Error){console.error(m.Error);process.exit(1)}console.log(m.Dir)})'
}

# go_build MODULE VERSION PACKAGE OUTPUT LDFLAGS: builds PACKAGE of MODULE@VERSION as the main
# module, from a copy of the module's source. `go install MODULE/PACKAGE@VERSION` would be shorter,
# but it refuses modules whose go.mod has replace directives (influxdb, compose), and it asks the
# module proxy for a version list that the proxy refuses for influx-cli.
go_build() {
  local module=$1 version=$2 package=$3 out=$4 ldflags=$5 src work
  if [ -x "$out" ]; then
    echo "build-servers: $(basename "$out") is built"
    return 0
  fi
  echo "build-servers: building $(basename "$out") from $module@$version"
  src=$(module_dir "$module@$version")
  work=$(mktemp -d)
  cp -r "$src/." "$work"
  chmod -R u+w "$work"
  mkdir -p "$bin"
  (cd "$work" && CGO_ENABLED=${CGO_ENABLED:-1} go build -trimpath -ldflags "$ldflags" -o "$out.partial" "$package")
  mv -f "$out.partial" "$out"
  rm -rf "$work"
}

command -v go >/dev/null || {
  echo "build-servers: needs Go (https://go.dev/doc/install)" >&2
  exit 1
}

go_build github.com/nats-io/nats-server/v2 "v$NATS_VERSION" . "$nats_server" "-s -w"

# Flux (inside influxd) is Rust behind cgo: influxdata's pkg-config wrapper builds it with cargo when
# cgo asks for it. Flux's rust-toolchain file names a toolchain that cannot be downloaded here, so
# the machine's stable one builds it. Flux denies every warning, and newer compilers warn about
# more; a rustc wrapper reports those lints instead of failing on them (RUSTFLAGS would miss the
# build scripts, which cargo compiles for the host when a --target is given).
if [ ! -x "$influxd" ]; then
  command -v cargo >/dev/null || {
    echo "build-servers: influxd needs Rust's cargo (https://rustup.rs) to build Flux" >&2
    exit 1
  }
  GOBIN=$cache/tools go install github.com/influxdata/pkg-config@v0.2.7
  cat >"$cache/tools/rustc-cap-lints" <<'WRAPPER'
#!/bin/sh
# RUSTC_WRAPPER for Flux: runs rustc with lints capped at warnings, unless cargo capped them already.
rustc=$1
shift
case " $* " in
  *" --cap-lints "*) exec "$rustc" "$@" ;;
  *) exec "$rustc" "$@" --cap-lints warn ;;
esac
WRAPPER
  chmod +x "$cache/tools/rustc-cap-lints"
  PATH=$cache/tools:$PATH RUSTUP_TOOLCHAIN=${RUSTUP_TOOLCHAIN:-stable} RUSTC_WRAPPER=$cache/tools/rustc-cap-lints \
    go_build github.com/influxdata/influxdb/v2 "v$INFLUXDB_VERSION" ./cmd/influxd "$influxd" \
    "-s -w -X main.version=$INFLUXDB_VERSION -X main.commit=v$INFLUXDB_VERSION"
fi

# The CLI at the exact revision influxd's go.mod requires: the proxy serves that one, not tagged
# influx-cli releases.
if [ ! -x "$influx" ]; then
  cli_version=$(sed -n 's/^[[:space:]]*github.com\/influxdata\/influx-cli\/v2 \(v[^ ]*\)$/\1/p' \
    "$(module_dir "github.com/influxdata/influxdb/v2@v$INFLUXDB_VERSION")/go.mod")
  go_build github.com/influxdata/influx-cli/v2 "$cli_version" ./cmd/influx "$influx" \
    "-s -w -X main.version=$cli_version"
fi

# The Docker CLI finds plugins in ~/.docker/cli-plugins; a CLI that has its own keeps them.
if command -v docker >/dev/null; then
  if ! docker buildx version >/dev/null 2>&1; then
    go_build github.com/docker/buildx "v$BUILDX_VERSION" ./cmd/buildx "$buildx" \
      "-s -w -X github.com/docker/buildx/version.Version=v$BUILDX_VERSION"
    mkdir -p "$HOME/.docker/cli-plugins"
    ln -sf "$buildx" "$HOME/.docker/cli-plugins/docker-buildx"
  fi
  if ! docker compose version >/dev/null 2>&1; then
    go_build github.com/docker/compose/v2 "v$COMPOSE_VERSION" ./cmd "$compose" \
      "-s -w -X github.com/docker/compose/v2/internal.Version=v$COMPOSE_VERSION"
    mkdir -p "$HOME/.docker/cli-plugins"
    ln -sf "$compose" "$HOME/.docker/cli-plugins/docker-compose"
  fi
fi

# Telegraf with only the plugins the peer benchmark configures (its `custom` build tags), not the
# hundreds of modules its other plugins need.
# Its go.mod has no replace directives, so `go install` builds it as its release does.
if $peers && [ ! -x "$telegraf" ]; then
  echo "build-servers: building $(basename "$telegraf") from github.com/influxdata/telegraf@v$TELEGRAF_VERSION"
  gobin=$(mktemp -d)
  GOBIN=$gobin CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=$TELEGRAF_VERSION" \
    -tags "custom,inputs.nats_consumer,outputs.influxdb_v2,parsers.json" \
    "github.com/influxdata/telegraf/cmd/telegraf@v$TELEGRAF_VERSION"
  mkdir -p "$bin"
  mv -f "$gobin/telegraf" "$telegraf"
  rm -rf "$gobin"
fi

print_paths
