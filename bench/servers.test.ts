import { describe, expect, it } from "vitest";
import { shippedInfluxdEnv } from "./servers.js";

describe("the InfluxDB the bench runs", () => {
  it("takes the storage settings docker-compose.yml gives influxd, and only those", () => {
    const env = shippedInfluxdEnv();
    expect(env.INFLUXD_STORAGE_CACHE_SNAPSHOT_MEMORY_SIZE).toBe("5242880");
    expect(Object.keys(env).every((name) => name.startsWith("INFLUXD_STORAGE_"))).toBe(true);
  });
});
