// Health probe of the service images (Dockerfile.base HEALTHCHECK, docker-compose.yml): exits 0
// when the service's operations endpoint answers 2xx on the path given as the first argument
// (default /healthz), 1 otherwise. It uses node's own fetch, so the images need no curl or wget.
const path = process.argv[2] ?? "/healthz";
const port = process.env.OPS_PORT || "9464";
try {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
