import { JetStreamApiError } from "@nats-io/jetstream";
import { TimeoutError } from "@nats-io/nats-core";
import { createLogSink } from "@vigil/testing";
import { describe, expect, it } from "vitest";
import { createPublishState } from "./publish-state.js";

const ack = (duplicate = false) => ({ stream: "EVENTS", seq: 1, duplicate });
const full = () => new JetStreamApiError({ code: 503, err_code: 10077, description: "maximum messages exceeded" });

describe("createPublishState", () => {
  it("is full at maxInFlight and makes room once an eighth of the events in flight are settled", async () => {
    const { log } = createLogSink();
    const state = createPublishState(16, log, () => 0);
    for (let i = 0; i < 16; i++) state.published();
    expect(state.full()).toBe(true);
    let resumed = false;
    const room = state.untilRoom().then(() => {
      resumed = true;
    });
    state.settled();
    await Promise.resolve();
    expect(resumed).toBe(false);
    state.settled();
    await room;
    expect(state.full()).toBe(false);
    expect(state.stats()).toMatchObject({ published: 16, inFlight: 14 });
  });

  it("is idle once every event in flight is settled", async () => {
    const { log } = createLogSink();
    const state = createPublishState(4, log, () => 0);
    await state.untilIdle();
    state.published();
    state.published();
    const idle = state.untilIdle();
    state.settled();
    state.settled();
    await idle;
    expect(state.stats().inFlight).toBe(0);
  });

  it("counts confirmations and duplicates, and returns how many are confirmed", () => {
    const { log } = createLogSink();
    const state = createPublishState(4, log, () => 0);
    expect(state.confirmed(ack())).toBe(1);
    expect(state.confirmed(ack(true))).toBe(2);
    expect(state.stats()).toMatchObject({ confirmed: 2, duplicates: 1 });
  });

  it("logs one line when publishes start failing and one when they are confirmed again", () => {
    const { log, lines } = createLogSink();
    let clock = 1_000;
    const state = createPublishState(4, log, () => clock);
    state.published();
    for (let i = 0; i < 3; i++) state.failed(new TimeoutError());
    clock = 1_250;
    state.confirmed(ack());
    expect(lines.map((line) => [line.msg, line.reason ?? line.failedAttempts])).toEqual([
      ["publishes are failing; retrying each event until it is confirmed", "timeout"],
      ["publishes are confirmed again", 3],
    ]);
    expect(lines[1]).toMatchObject({ failingMs: 250 });
    expect(state.stats().failures).toEqual({ stream_full: 0, timeout: 3, rejected: 0, unavailable: 0 });
  });

  it("says when the stream becomes full, even during an outage, and clears it once confirmed again", () => {
    const { log, lines } = createLogSink();
    const state = createPublishState(4, log, () => 0);
    state.failed(new Error("connection closed"));
    state.failed(full());
    state.failed(full());
    expect(state.stats().streamFull).toBe(true);
    state.confirmed(ack());
    expect(state.stats().streamFull).toBe(false);
    expect(lines.map((line) => line.msg)).toEqual([
      "publishes are failing; retrying each event until it is confirmed",
      "the events stream is full; holding events and retrying until it has room",
      "publishes are confirmed again",
    ]);
  });

  it("hands out copies of its counts", () => {
    const { log } = createLogSink();
    const state = createPublishState(4, log, () => 0);
    const before = state.stats();
    state.published();
    state.failed(new TimeoutError());
    expect(before).toMatchObject({ published: 0, inFlight: 0, failures: { timeout: 0 } });
  });
});
