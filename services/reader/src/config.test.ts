import { readFileSync } from "node:fs";
import { ConfigError } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { DEFAULT_QUERY_WINDOWS_MS } from "./query-windows.js";

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({});
    expect(config.settings).toEqual({
      version: expect.any(String),
      queryTimeoutMs: 5_000,
      maxConcurrent: 32,
      maxQueued: 1_000,
      maxBytesInFlight: 32 * 1024 * 1024,
      maxAnswerBytes: 8 * 1024 * 1024,
      queryWindowsMs: DEFAULT_QUERY_WINDOWS_MS,
      aggregateSlices: 2,
      healthIntervalMs: 10_000,
    });
    expect(config.shutdownTimeoutMs).toBe(15_000);
    expect(config.logLevel).toBe("info");
    // Its own default port, so that it runs beside the daemon (9464) and the writer (9465).
    expect(config.ops).toMatchObject({ OPS_PORT: 9466, OPS_HOST: "127.0.0.1" });
    expect(config.influx).toMatchObject({ url: "http://127.0.0.1:8086", database: "vigil", auth: { kind: "none" } });
  });

  it("reports the version of its package.json", () => {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(loadConfig({}).settings.version).toBe(manifest.version);
  });

  it("uses READER_QUERY_TIMEOUT as the timeout of every InfluxDB request", () => {
    const config = loadConfig({ READER_QUERY_TIMEOUT: "750ms", INFLUX_TIMEOUT_MS: "60000" });
    expect(config.settings.queryTimeoutMs).toBe(750);
    expect(config.influx.timeoutMs).toBe(750);
  });

  it("reads the reader's credentials for InfluxDB and NATS", () => {
    const config = loadConfig({
      INFLUX_USERNAME: "reader",
      INFLUX_PASSWORD: "secret",
      NATS_URL: "nats://nats:4222",
      NATS_TOKEN: "t",
      READER_MAX_CONCURRENT: "4",
      READER_MAX_QUEUED: "0",
    });
    expect(config.influx.auth).toEqual({ kind: "basic", username: "reader", password: "secret" });
    expect(config.nats).toMatchObject({ NATS_URL: ["nats://nats:4222"], NATS_TOKEN: "t" });
    expect(config.settings).toMatchObject({ maxConcurrent: 4, maxQueued: 0 });
  });

  it("reads READER_QUERY_WINDOWS as widening durations, or none", () => {
    expect(DEFAULT_QUERY_WINDOWS_MS).toEqual([3_600_000, 86_400_000, 7 * 86_400_000]);
    expect(loadConfig({ READER_QUERY_WINDOWS: "15m, 6h,30d" }).settings.queryWindowsMs).toEqual([
      900_000,
      21_600_000,
      30 * 86_400_000,
    ]);
    expect(loadConfig({ READER_QUERY_WINDOWS: "none" }).settings.queryWindowsMs).toEqual([]);
  });

  it.each([
    ["a window that does not widen", "1h,1h"],
    ["a narrowing ladder", "1d,1h"],
    ["a zero window", "0s,1h"],
    ["not a duration", "1h,soon"],
    ["an empty entry", "1h,,1d"],
    ["more than eight windows", "1m,2m,3m,4m,5m,6m,7m,8m,9m"],
    ["a window beyond ten years", "1h,3651d"],
  ])("refuses READER_QUERY_WINDOWS with %s", (_what, value) => {
    expect(() => loadConfig({ READER_QUERY_WINDOWS: value })).toThrow(/READER_QUERY_WINDOWS/);
  });

  it("reads READER_AGGREGATE_SLICES from 1 to 16, and refuses anything else", () => {
    expect(loadConfig({ READER_AGGREGATE_SLICES: "1" }).settings.aggregateSlices).toBe(1);
    expect(loadConfig({ READER_AGGREGATE_SLICES: "16" }).settings.aggregateSlices).toBe(16);
    for (const value of ["0", "17", "two", "1.5"]) {
      expect(() => loadConfig({ READER_AGGREGATE_SLICES: value })).toThrow(/READER_AGGREGATE_SLICES/);
    }
  });

  it("names every wrong variable at once", () => {
    const load = () =>
      loadConfig({
        READER_MAX_CONCURRENT: "0",
        READER_QUERY_TIMEOUT: "soon",
        INFLUX_USERNAME: "reader",
        NATS_URL: "x",
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/READER_MAX_CONCURRENT.*READER_QUERY_TIMEOUT|READER_QUERY_TIMEOUT.*READER_MAX_CONCURRENT/);
    expect(load).toThrow(/NATS_URL/);
  });
});
