import { encodeEvent } from "@vigil/shared";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { DeadLetterCode } from "./dead-letter.js";
import { createWriterMetrics } from "./metrics.js";
import type { HeldMessage, PendingEvent } from "./pending-event.js";
import { createMessageIntake } from "./writer.js";

const event = {
  criticality: 4,
  timestamp: "2026-11-24T10:15:30.123Z",
  eventMessage: "Port scan from 203.0.113.77",
  id: "0f8fad5b-d9cb-469f-a165-70867728950e",
};

const message = (data: Uint8Array, reply: string): HeldMessage & { readonly reply: string } => ({
  reply,
  data,
  subject: "events",
  get seq(): number {
    throw new Error("read from the reply subject instead");
  },
  info: { deliveryCount: 1 },
  ack: () => {},
  nak: () => {},
  working: () => {},
});

const setUp = () => {
  const batched: PendingEvent[] = [];
  const deadLettered: { code: DeadLetterCode; reason: string; eventId: string | undefined }[] = [];
  const metrics = createWriterMetrics(new Registry());
  const intake = createMessageIntake({
    batcher: { add: (item) => batched.push(item) },
    deadLetters: {
      publish: async (_msg, code, reason, eventId) => {
        deadLettered.push({ code, reason, eventId });
      },
    },
    metrics,
    maxEventBytes: 1024,
  });
  return { intake, batched, deadLettered, metrics };
};

describe("createMessageIntake", () => {
  it("batches a valid event under the stream sequence of its message, and counts redeliveries", async () => {
    const { intake, batched, metrics } = setUp();
    const msg = message(encodeEvent(event), "$JS.ACK.EVENTS.writer.2.41.7.1763946000123456789.0");
    expect(intake(msg)).toBeUndefined();
    expect(batched).toEqual([{ event, sequence: 41, msg }]);
    expect((await metrics.redelivered.get()).values[0]?.value).toBe(1);
    expect((await metrics.received.get()).values[0]?.value).toBe(1);
  });

  it("dead-letters what is not an event, with the reason and the id it claims", async () => {
    const { intake, batched, deadLettered } = setUp();
    const invalid = new TextEncoder().encode(JSON.stringify({ ...event, criticality: 42 }));
    await intake(message(invalid, "$JS.ACK.EVENTS.writer.1.42.8.1763946000123456789.0"));
    await intake(message(new Uint8Array(2048), "$JS.ACK.EVENTS.writer.1.43.9.1763946000123456789.0"));
    expect(batched).toEqual([]);
    expect(deadLettered).toEqual([
      { code: "INVALID_EVENT", reason: expect.stringMatching(/criticality/), eventId: event.id },
      { code: "TOO_LARGE", reason: expect.stringMatching(/2048 bytes/), eventId: undefined },
    ]);
  });
});
