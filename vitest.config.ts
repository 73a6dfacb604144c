import { defineConfig } from "vitest/config";

export default defineConfig({
  // Import workspace packages from their TypeScript sources, not from dist/.
  resolve: { conditions: ["vigil-source", "import", "node", "default"] },
  ssr: { resolve: { conditions: ["vigil-source", "import", "node", "default"] } },
  test: {
    // The JSON report gives CI its one-line summary (.ci/run).
    reporters: ["default", ["json", { outputFile: ".vigil/test-results.json" }]],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts", "services/*/src/**/*.test.ts", "bench/**/*.test.ts"],
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
          // Each file starts its own nats-server and influxd; two at once fit on two cores.
          maxWorkers: 2,
          // Run after the unit tests, which use their own worker count.
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
