import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@vigil/runtime";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

const GATE_TOKEN = "gate-token-for-the-writer-0123";
const dir = mkdtempSync(join(tmpdir(), "vigil-gate-config-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({ INFLUX_GATE_TOKEN: GATE_TOKEN });
    expect(config.settings).toEqual({
      host: "127.0.0.1",
      port: 8087,
      token: GATE_TOKEN,
      rules: { database: "vigil" },
      maxBodyBytes: 48 * 1024 * 1024,
      requestTimeoutMs: 30_000,
      maxConcurrent: 8,
      upstreamConnections: 8,
      healthIntervalMs: 10_000,
    });
    expect(config.shutdownTimeoutMs).toBe(15_000);
    expect(config.logLevel).toBe("info");
    // Its own default port, beside the daemon (9464), writer, reader and gateway (9467).
    expect(config.ops).toMatchObject({ OPS_PORT: 9468, OPS_HOST: "127.0.0.1" });
    expect(config.influx).toMatchObject({ url: "http://127.0.0.1:8086", database: "vigil", auth: { kind: "none" } });
  });

  it("fits the writer's largest default batch in the default body limit", () => {
    // WRITER_BATCH_SIZE 5000 events of WRITER_MAX_EVENT_BYTES (8 KiB), each line at most ~150 bytes more.
    expect(loadConfig({ INFLUX_GATE_TOKEN: GATE_TOKEN }).settings.maxBodyBytes).toBeGreaterThan(5_000 * (8_192 + 256));
  });

  it("reads both credentials from files, and writes go only where INFLUX_DATABASE and INFLUX_RETENTION_POLICY say", () => {
    writeFileSync(join(dir, "gate-token"), `${GATE_TOKEN}\n`);
    writeFileSync(join(dir, "influx-token"), "the-real-write-token\n");
    const config = loadConfig({
      INFLUX_GATE_TOKEN_FILE: join(dir, "gate-token"),
      INFLUX_TOKEN_FILE: join(dir, "influx-token"),
      INFLUX_URL: "http://influxdb:8086",
      INFLUX_DATABASE: "events",
      INFLUX_RETENTION_POLICY: "autogen",
      INFLUX_GATE_MAX_BODY_BYTES: "1MiB",
      INFLUX_GATE_REQUEST_TIMEOUT: "2s",
      INFLUX_GATE_MAX_CONCURRENT: "3",
      INFLUX_GATE_UPSTREAM_CONNECTIONS: "4",
    });
    expect(config.settings).toMatchObject({
      token: GATE_TOKEN,
      rules: { database: "events", retentionPolicy: "autogen" },
      maxBodyBytes: 1_048_576,
      requestTimeoutMs: 2_000,
      maxConcurrent: 3,
      upstreamConnections: 4,
    });
    expect(config.influx).toMatchObject({
      url: "http://influxdb:8086",
      auth: { kind: "token", token: "the-real-write-token" },
      // The gate's own timeout also bounds its pings.
      timeoutMs: 2_000,
    });
  });

  it("needs the writer's credential, and refuses InfluxDB's own token as that credential", () => {
    expect(() => loadConfig({})).toThrow(/INFLUX_GATE_TOKEN/);
    expect(() => loadConfig({ INFLUX_GATE_TOKEN: "short" })).toThrow(/INFLUX_GATE_TOKEN: expected at least 20/);
    expect(() => loadConfig({ INFLUX_GATE_TOKEN: GATE_TOKEN, INFLUX_TOKEN: GATE_TOKEN })).toThrow(
      /INFLUX_GATE_TOKEN: must not be InfluxDB's own token/,
    );
  });

  it("names every wrong variable at once, without showing a secret", () => {
    let error: unknown;
    try {
      loadConfig({
        INFLUX_GATE_TOKEN: "short-secret",
        INFLUX_GATE_MAX_BODY_BYTES: "lots",
        INFLUX_GATE_REQUEST_TIMEOUT: "soon",
        INFLUX_GATE_MAX_CONCURRENT: "0",
        INFLUX_GATE_PORT: "70000",
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of [
      "INFLUX_GATE_TOKEN",
      "INFLUX_GATE_MAX_BODY_BYTES",
      "INFLUX_GATE_REQUEST_TIMEOUT",
      "INFLUX_GATE_MAX_CONCURRENT",
      "INFLUX_GATE_PORT",
    ]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain("short-secret");
  });

  it("returns a frozen configuration", () => {
    const config = loadConfig({ INFLUX_GATE_TOKEN: GATE_TOKEN });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.settings)).toBe(true);
    expect(Object.isFrozen(config.settings.rules)).toBe(true);
  });
});
