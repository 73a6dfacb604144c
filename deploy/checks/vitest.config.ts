import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { serverBinaries } from "../../test/server-binaries.js";

// The container checks run from scripts/check-containers.sh, apart from `pnpm test`: they read the
// deployment files and start the real nats-server and influxd with the compose wiring.
export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  resolve: { conditions: ["vigil-source", "import", "node", "default"] },
  ssr: { resolve: { conditions: ["vigil-source", "import", "node", "default"] } },
  test: {
    // The NATS permissions test belongs to test/security and `pnpm test`, and proves deploy/nats too.
    include: ["deploy/checks/**/*.test.ts", "test/security/nats-permissions.integration.test.ts"],
    // The wiring test starts nats-server, influxd and three services: one file at a time on two cores.
    maxWorkers: 1,
    // nats-server at the version compose pins; the wiring test's InfluxDB stays 1.x.
    env: { NATS_SERVER_BIN: serverBinaries().NATS_SERVER_BIN },
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
