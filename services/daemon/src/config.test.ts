import { ConfigError } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("has a default for every setting", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nats: { NATS_URL: ["nats://127.0.0.1:4222"] },
      events: { source: "daemon" },
      publisher: {
        ratePerSecond: 10,
        maxInFlight: 1_000,
        publishTimeoutMs: 5_000,
        retryInitialMs: 100,
        retryMaxMs: 5_000,
        burstMs: 10,
      },
      drainTimeoutMs: 10_000,
      streams: { EVENTS_MAX_MSGS: 10_000_000 },
      ops: { OPS_PORT: 9464 },
      logLevel: "info",
    });
    expect(config.publisher.maxEvents).toBeUndefined();
    expect(config.events.weights).toHaveLength(11);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("reads no consumer setting: the writer owns its consumer", () => {
    const config = loadConfig({ WRITER_MAX_IN_FLIGHT: "5", WRITER_ACK_WAIT: "1s" });
    expect(Object.keys(config).sort()).toEqual(
      ["drainTimeoutMs", "events", "logLevel", "nats", "ops", "publisher", "shutdownTimeoutMs", "streams"].sort(),
    );
    expect(JSON.stringify(config)).not.toMatch(/WRITER_|maxAckPending|ackWait/);
  });

  it("reads only the events stream's limits: the writer owns the dead-letter stream", () => {
    const config = loadConfig({
      EVENTS_MAX_AGE: "1d",
      DEAD_LETTER_MAX_AGE: "not a duration",
      DEAD_LETTER_MAX_BYTES: "1GiB",
    });
    expect(config.streams).toMatchObject({ EVENTS_MAX_AGE: 86_400_000 });
    expect(JSON.stringify(config)).not.toMatch(/DEAD_LETTER_/);
  });

  it("reads the daemon's variables", () => {
    const config = loadConfig({
      DAEMON_RATE: "0",
      DAEMON_MAX_EVENTS: "500",
      DAEMON_CRITICALITY_WEIGHTS: "0,0,0,0,0,0,0,0,0,0,1",
      DAEMON_SOURCE: "edge-fw.01",
      DAEMON_SHUTDOWN_TIMEOUT: "30s",
      DAEMON_MAX_IN_FLIGHT: "",
    });
    expect(config.publisher.ratePerSecond).toBe(0);
    expect(config.publisher.maxEvents).toBe(500);
    expect(config.events.weights).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(config.events.source).toBe("edge-fw.01");
    expect(config.drainTimeoutMs).toBe(30_000);
    expect(config.publisher.maxInFlight).toBe(1_000);
  });

  it("names every bad variable at once", () => {
    const load = () =>
      loadConfig({
        DAEMON_RATE: "-1",
        DAEMON_CRITICALITY_WEIGHTS: "1,2,3",
        DAEMON_SOURCE: "has space",
        DAEMON_MAX_EVENTS: "0",
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/DAEMON_RATE.*DAEMON_CRITICALITY_WEIGHTS: expected 11.*DAEMON_MAX_EVENTS/s);
    expect(load).toThrow(/DAEMON_SOURCE/);
  });

  it("keeps the checks that span variables", () => {
    expect(() => loadConfig({ DAEMON_RETRY_INITIAL_DELAY: "10s", DAEMON_RETRY_MAX_DELAY: "1s" })).toThrow(
      /DAEMON_RETRY_INITIAL_DELAY must not exceed DAEMON_RETRY_MAX_DELAY/,
    );
    expect(() => loadConfig({ NATS_USER: "daemon" })).toThrow(/NATS_USER and NATS_PASSWORD go together/);
  });

  it("leaves the stream alone with DAEMON_ENSURE_STREAM=false, as a credential that may only publish must", () => {
    expect(loadConfig({}).streams).toMatchObject({ EVENTS_MAX_MSGS: 10_000_000 });
    expect(loadConfig({ DAEMON_ENSURE_STREAM: "false" }).streams).toBeUndefined();
    expect(() => loadConfig({ DAEMON_ENSURE_STREAM: "no" })).toThrow(/DAEMON_ENSURE_STREAM/);
  });
});
