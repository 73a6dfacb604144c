#!/usr/bin/env bash
# Makes a private CA and a server certificate for NATS, for the compose stack or for tests.
# Usage: deploy/tls/make-certs.sh OUT_DIR [HOSTNAME...]   (default hostnames: nats localhost)
# Writes OUT_DIR/ca.pem, OUT_DIR/server.pem and OUT_DIR/server-key.pem. Never commit them.
set -euo pipefail
out=${1:?usage: make-certs.sh OUT_DIR [HOSTNAME...]}
shift
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(nats localhost)
mkdir -p "$out"
umask 077
san="IP:127.0.0.1"
for name in "${names[@]}"; do san="$san,DNS:$name"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
  -subj "/CN=Vigil local CA" -keyout "$out/ca-key.pem" -out "$out/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=${names[0]}" -keyout "$out/server-key.pem" -out "$out/server.csr" 2>/dev/null
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.pem" -CAkey "$out/ca-key.pem" -CAcreateserial \
  -days 825 -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") \
  -out "$out/server.pem" 2>/dev/null
rm -f "$out/server.csr" "$out/ca.srl"
chmod 0444 "$out/ca.pem" "$out/server.pem"
echo "wrote $out/ca.pem, $out/server.pem, $out/server-key.pem for ${names[*]} and 127.0.0.1"
