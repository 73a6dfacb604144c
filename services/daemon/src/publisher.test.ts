import { JetStreamApiError, type PubAck } from "@nats-io/jetstream";
import { PermissionViolationError, TimeoutError } from "@nats-io/nats-core";
import { createLogger } from "@vigil/runtime";
import { waitFor } from "@vigil/testing";
import { describe, expect, it } from "vitest";
import { createEventGenerator } from "./event-generator.js";
import { classifyFailure, type PublisherSettings, startPublisher } from "./publisher.js";

const log = createLogger("daemon-test", "silent");
const nextEvent = createEventGenerator({ weights: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], source: "test" });
const settings: PublisherSettings = {
  ratePerSecond: 0,
  maxInFlight: 8,
  publishTimeoutMs: 1_000,
  retryInitialMs: 1,
  retryMaxMs: 2,
  burstMs: 10,
};

/** Stands in for the stream: records each attempt and answers when the test says so. */
const manualStream = () => {
  const attempts: { msgID: string; settle: (outcome: PubAck | Error) => void }[] = [];
  let seq = 0;
  return {
    attempts,
    publish: (_subject: string, _payload: Uint8Array, options: { msgID: string; timeout: number }) =>
      new Promise<PubAck>((resolve, reject) => {
        attempts.push({
          msgID: options.msgID,
          settle: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)),
        });
      }),
    ack: (duplicate = false): PubAck => ({ stream: "EVENTS", seq: ++seq, duplicate }),
  };
};

describe("startPublisher", () => {
  it("keeps at most maxInFlight events unconfirmed and resumes as confirmations arrive", async () => {
    const stream = manualStream();
    const publisher = startPublisher({ js: stream, nextEvent, log }, settings);
    await waitFor("the in-flight bound", () => stream.attempts.length === 8);
    expect(publisher.stats()).toMatchObject({ published: 8, inFlight: 8, confirmed: 0 });
    for (const attempt of stream.attempts.slice(0, 4)) attempt.settle(stream.ack());
    await waitFor("new publishes", () => stream.attempts.length === 12);
    expect(publisher.stats()).toMatchObject({ published: 12, inFlight: 8, confirmed: 4 });
    for (const attempt of stream.attempts.slice(4)) attempt.settle(stream.ack());
    await publisher.stop(1_000);
  });

  it("retries a failed publish with the same msgID until it is confirmed, counting each failure", async () => {
    const stream = manualStream();
    const publisher = startPublisher({ js: stream, nextEvent, log }, { ...settings, maxEvents: 3 });
    await waitFor("first attempts", () => stream.attempts.length === 3);
    const firstIds = stream.attempts.map((a) => a.msgID);
    for (const attempt of stream.attempts.splice(0)) attempt.settle(new TimeoutError());
    await waitFor("retries", () => stream.attempts.length === 3);
    expect(stream.attempts.map((a) => a.msgID).sort()).toEqual([...firstIds].sort());
    const [stored, ...refused] = stream.attempts.splice(0);
    stored?.settle(stream.ack(true));
    for (const attempt of refused)
      attempt.settle(new JetStreamApiError({ code: 503, err_code: 10077, description: "maximum messages exceeded" }));
    await waitFor("retries after a full stream", () => stream.attempts.length === 2);
    expect(publisher.stats()).toMatchObject({ streamFull: true, inFlight: 2 });
    for (const attempt of stream.attempts.splice(0)) attempt.settle(stream.ack());
    await publisher.completed;
    expect(publisher.stats()).toEqual({
      published: 3,
      confirmed: 3,
      duplicates: 1,
      failures: { timeout: 3, stream_full: 2, rejected: 0, unavailable: 0 },
      inFlight: 0,
      streamFull: false,
    });
  });

  it("on stop publishes nothing new, waits for what is in flight, then gives up on the rest", async () => {
    const stream = manualStream();
    const publisher = startPublisher({ js: stream, nextEvent, log }, settings);
    await waitFor("the in-flight bound", () => stream.attempts.length === 8);
    const stopping = publisher.stop(50);
    for (const attempt of stream.attempts.slice(0, 5)) attempt.settle(stream.ack());
    const final = await stopping;
    expect(final).toMatchObject({ published: 8, confirmed: 5, inFlight: 3 });
    expect(stream.attempts).toHaveLength(8);
  });

  it("hands each confirmed event to onConfirmed with its acknowledgement", async () => {
    const stream = manualStream();
    const seen: string[] = [];
    const publisher = startPublisher(
      { js: stream, nextEvent, log, onConfirmed: (event, ack) => seen.push(`${event.id}@${ack.seq}`) },
      { ...settings, maxEvents: 2 },
    );
    await waitFor("attempts", () => stream.attempts.length === 2);
    for (const attempt of stream.attempts) attempt.settle(stream.ack());
    await publisher.completed;
    expect(seen).toEqual(stream.attempts.map((attempt, i) => `${attempt.msgID}@${i + 1}`));
  });
});

describe("classifyFailure", () => {
  it.each([
    [
      "a full stream (messages)",
      new JetStreamApiError({ code: 503, err_code: 10077, description: "maximum messages exceeded" }),
      "stream_full",
    ],
    [
      "a full stream (bytes)",
      new JetStreamApiError({ code: 503, err_code: 10077, description: "maximum bytes exceeded" }),
      "stream_full",
    ],
    [
      "another refusal",
      new JetStreamApiError({ code: 400, err_code: 10060, description: "expected stream does not match" }),
      "rejected",
    ],
    [
      "a permissions violation",
      new PermissionViolationError("Permissions Violation", "subscription", "_INBOX.x.*"),
      "rejected",
    ],
    ["a timeout", new TimeoutError(), "timeout"],
    ["anything else", new Error("connection closed"), "unavailable"],
  ])("sorts %s", (_label, err, reason) => {
    expect(classifyFailure(err)).toBe(reason);
  });
});
