import { defineConfig } from "vitest/config";
import { serverBinaries } from "./test/server-binaries.js";

const servers = serverBinaries();
// The tests of the storage layer and the reader, which InfluxDB 1.x (Debian's influxd) also runs.
const storageTests = ["packages/influx/src/**/*.integration.test.ts", "services/reader/src/**/*.integration.test.ts"];

export default defineConfig({
  // Import workspace packages from their TypeScript sources, not from dist/. Vitest hands these
  // conditions to Node as --conditions, so "import" is not among them: with it, a CommonJS
  // dependency's require() of a dual package (@fastify/websocket's of ws) gets the ESM entry.
  // Vite applies "import", "require" and "default" by itself wherever they fit.
  resolve: { conditions: ["vigil-source", "node"] },
  ssr: { resolve: { conditions: ["vigil-source", "node"] } },
  test: {
    // The JSON report gives CI its one-line summary (.ci/run).
    reporters: ["default", ["json", { outputFile: ".vigil/test-results.json" }]],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [
            "packages/*/src/**/*.test.ts",
            "services/*/src/**/*.test.ts",
            "services/gateway/dashboard/src/**/*.test.ts",
            "bench/**/*.test.ts",
          ],
          exclude: ["**/*.integration.test.ts", "**/node_modules/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: [
            "packages/*/src/**/*.integration.test.ts",
            "services/*/src/**/*.integration.test.ts",
            "test/**/*.integration.test.ts",
          ],
          // InfluxDB 1.x users and grants; the container tests prove the 2.x tokens.
          exclude: ["test/security/influx-permissions.integration.test.ts", "**/node_modules/**"],
          env: { ...servers, VIGIL_INFLUXDB: "2" },
          // Each file starts its own nats-server and influxd; two at once fit on two cores.
          maxWorkers: 2,
          // Run after the unit tests, which use their own worker count.
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "influxdb-1",
          include: [
            ...storageTests,
            "test/security/influx-permissions.integration.test.ts",
            "test/security/influx-least-privilege.integration.test.ts",
          ],
          env: { ...servers, VIGIL_INFLUXDB: "1" },
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "containers",
          include: ["test/containers/**/*.containers.test.ts"],
          // One compose stack at a time: each takes most of the two cores while it builds and starts.
          maxWorkers: 1,
          sequence: { groupOrder: 3 },
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
