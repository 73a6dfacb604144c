import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

const configError = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("loadConfig", () => {
  it("starts from the documented defaults", () => {
    const config = loadConfig({});
    // Its own default port, so that it runs beside the daemon (9464) and the reader (9466).
    expect(config.ops).toMatchObject({ OPS_PORT: 9465, OPS_HOST: "127.0.0.1" });
    expect(config.settings).toMatchObject({
      batchSize: 5_000,
      flushIntervalMs: 100,
      flushWhenIdle: true,
      maxConcurrentWrites: 2,
      pullBatch: 5_000,
      maxEventBytes: 8_192,
      retryInitialMs: 250,
      retryMaxMs: 5_000,
      shutdownTimeoutMs: 10_000,
      pollIntervalMs: 5_000,
      consumer: { maxAckPending: 20_000, ackWaitMs: 30_000 },
    });
    expect(config.shutdownTimeoutMs).toBeGreaterThan(config.settings.shutdownTimeoutMs);
    expect(config.influx).toMatchObject({ url: "http://127.0.0.1:8086", database: "vigil", auth: { kind: "none" } });
    expect(config.nats.NATS_URL).toEqual(["nats://127.0.0.1:4222"]);
    expect(config.logLevel).toBe("info");
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("reads every writer setting, treating empty values as unset", () => {
    const config = loadConfig({
      WRITER_BATCH_SIZE: "1000",
      WRITER_FLUSH_INTERVAL: "250ms",
      WRITER_FLUSH_WHEN_IDLE: "false",
      WRITER_MAX_CONCURRENT_WRITES: "4",
      WRITER_PULL_BATCH: "",
      WRITER_MAX_EVENT_BYTES: "16KiB",
      WRITER_RETRY_INITIAL: "1s",
      WRITER_RETRY_MAX: "1m",
      WRITER_SHUTDOWN_TIMEOUT: "30s",
      WRITER_POLL_INTERVAL: "2s",
      WRITER_MAX_IN_FLIGHT: "500",
      WRITER_ACK_WAIT: "1m",
      LOG_LEVEL: "debug",
    });
    expect(config.settings).toMatchObject({
      batchSize: 1_000,
      flushIntervalMs: 250,
      flushWhenIdle: false,
      maxConcurrentWrites: 4,
      // Defaults to the smaller of the batch size and the in-flight limit.
      pullBatch: 500,
      maxEventBytes: 16_384,
      retryInitialMs: 1_000,
      retryMaxMs: 60_000,
      shutdownTimeoutMs: 30_000,
      pollIntervalMs: 2_000,
      consumer: { maxAckPending: 500, ackWaitMs: 60_000 },
    });
    expect(config.logLevel).toBe("debug");
  });

  it("names every malformed variable in one error", () => {
    const message = configError({
      WRITER_BATCH_SIZE: "0",
      WRITER_FLUSH_INTERVAL: "soon",
      WRITER_FLUSH_WHEN_IDLE: "yes",
      WRITER_MAX_CONCURRENT_WRITES: "two",
      INFLUX_URL: "ftp://influx",
      NATS_URL: "localhost:4222",
    });
    for (const name of [
      "WRITER_BATCH_SIZE",
      "WRITER_FLUSH_INTERVAL",
      "WRITER_FLUSH_WHEN_IDLE",
      "WRITER_MAX_CONCURRENT_WRITES",
      "INFLUX_URL",
      "NATS_URL",
    ]) {
      expect(message).toContain(name);
    }
  });

  it("refuses a pull batch larger than the in-flight limit", () => {
    expect(configError({ WRITER_PULL_BATCH: "5000", WRITER_MAX_IN_FLIGHT: "1000" })).toMatch(
      /WRITER_PULL_BATCH: may not exceed WRITER_MAX_IN_FLIGHT/,
    );
  });

  it("refuses a retry ceiling below the first retry delay", () => {
    expect(configError({ WRITER_RETRY_INITIAL: "2s", WRITER_RETRY_MAX: "1s" })).toMatch(
      /WRITER_RETRY_MAX: must be at least WRITER_RETRY_INITIAL/,
    );
  });

  it("reads the InfluxDB password from a file and refuses half a credential", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vigil-writer-config-"));
    try {
      const file = join(dir, "password");
      await writeFile(file, "s3cret\n");
      const config = loadConfig({ INFLUX_USERNAME: "writer", INFLUX_PASSWORD_FILE: file });
      expect(config.influx.auth).toEqual({ kind: "basic", username: "writer", password: "s3cret" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(configError({ INFLUX_USERNAME: "writer" })).toContain("INFLUX_PASSWORD");
  });
});
