import { JetStreamApiError } from "@nats-io/jetstream";
import { TimeoutError } from "@nats-io/nats-core";
import { createLogSink } from "@vigil/testing";
import { describe, expect, it } from "vitest";
import { createPublishOutage } from "./publish-outage.js";

const full = () => new JetStreamApiError({ code: 503, err_code: 10077, description: "maximum messages exceeded" });

describe("createPublishOutage", () => {
  it("logs nothing when a publish is confirmed without an outage", () => {
    const { log, lines } = createLogSink();
    createPublishOutage(log, () => 0).confirmed();
    expect(lines).toEqual([]);
  });

  it("logs one warning per outage with the events in flight, and one line when it ends", () => {
    const { log, lines } = createLogSink();
    let clock = 100;
    const outage = createPublishOutage(log, () => clock);
    outage.failed(new TimeoutError(), 7);
    outage.failed(new Error("connection closed"), 7);
    clock = 600;
    outage.confirmed();
    outage.failed(new TimeoutError(), 3);
    expect(
      lines.map(({ level, msg, reason, inFlight, failedAttempts, failingMs }) => ({
        level,
        msg,
        reason,
        inFlight,
        failedAttempts,
        failingMs,
      })),
    ).toEqual([
      {
        level: "warn",
        msg: "publishes are failing; retrying each event until it is confirmed",
        reason: "timeout",
        inFlight: 7,
        failedAttempts: undefined,
        failingMs: undefined,
      },
      {
        level: "info",
        msg: "publishes are confirmed again",
        reason: undefined,
        inFlight: undefined,
        failedAttempts: 2,
        failingMs: 500,
      },
      {
        level: "warn",
        msg: "publishes are failing; retrying each event until it is confirmed",
        reason: "timeout",
        inFlight: 3,
        failedAttempts: undefined,
        failingMs: undefined,
      },
    ]);
    expect(outage.failures()).toEqual({ stream_full: 0, timeout: 2, rejected: 0, unavailable: 1 });
  });

  it("says once that the stream is full, and clears it once a publish is confirmed", () => {
    const { log, lines } = createLogSink();
    const outage = createPublishOutage(log, () => 0);
    outage.failed(full(), 1);
    outage.failed(full(), 1);
    expect(outage.streamFull()).toBe(true);
    outage.confirmed();
    expect(outage.streamFull()).toBe(false);
    expect(lines.map((line) => line.msg)).toEqual([
      "the events stream is full; holding events and retrying until it has room",
      "publishes are confirmed again",
    ]);
  });

  it("hands out a copy of its failure counts", () => {
    const { log } = createLogSink();
    const outage = createPublishOutage(log, () => 0);
    const before = outage.failures();
    outage.failed(new TimeoutError(), 1);
    expect(before.timeout).toBe(0);
  });
});
