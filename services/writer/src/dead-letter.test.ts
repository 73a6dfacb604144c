import type { PubAck } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/nats-core";
import { DEAD_LETTER_HEADERS, DEAD_LETTER_SUBJECT, decodeEvent } from "@vigil/shared";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  claimedEventId,
  createDeadLetterPublisher,
  deadLetterHeaders,
  deadLetterMsgId,
  oneLine,
  STORAGE_REJECTED,
} from "./dead-letter.js";
import { createWriterMetrics } from "./metrics.js";
import type { HeldMessage } from "./pending-event.js";

const encoder = new TextEncoder();

describe("deadLetterHeaders", () => {
  it("carries the code, a one-line reason, the original subject and sequence, and when", () => {
    const h = deadLetterHeaders({
      code: "INVALID_EVENT",
      reason: "criticality: Too big\r\neventMessage: Too small",
      subject: "events",
      streamSequence: 42,
      rejectedAt: new Date("2024-05-01T12:00:00.123Z"),
    });
    expect(h.get(DEAD_LETTER_HEADERS.code)).toBe("INVALID_EVENT");
    expect(h.get(DEAD_LETTER_HEADERS.reason)).toBe("criticality: Too big eventMessage: Too small");
    expect(h.get(DEAD_LETTER_HEADERS.subject)).toBe("events");
    expect(h.get(DEAD_LETTER_HEADERS.streamSequence)).toBe("42");
    expect(h.get(DEAD_LETTER_HEADERS.rejectedAt)).toBe("2024-05-01T12:00:00.123Z");
  });

  it("accepts the writer's own STORAGE_REJECTED code", () => {
    const h = deadLetterHeaders({
      code: STORAGE_REJECTED,
      reason: "write: InfluxDB answered 400: field type conflict",
      subject: "events",
      streamSequence: 1,
      rejectedAt: new Date(0),
    });
    expect(h.get(DEAD_LETTER_HEADERS.code)).toBe("STORAGE_REJECTED");
  });

  it("derives the Nats-Msg-Id from the stream sequence, so a retried record is stored once", () => {
    expect(deadLetterMsgId(7)).toBe("events-7");
  });
});

describe("oneLine", () => {
  it("replaces control characters and cuts long text to the limit with an ellipsis", () => {
    expect(oneLine("a\tb\n\nc\u0000d ")).toBe("a b c d");
    const cut = oneLine("x".repeat(600));
    expect(cut).toHaveLength(512);
    expect(cut.endsWith("…")).toBe(true);
  });

  it("never leaves half a surrogate pair behind", () => {
    const cut = oneLine(`${"x".repeat(8)}😀😀😀`, 10);
    expect(cut).toBe(`${"x".repeat(8)}…`);
    expect(oneLine(`${"x".repeat(7)}😀😀😀`, 10)).toBe(`${"x".repeat(7)}😀…`);
  });
});

describe("claimedEventId", () => {
  const claimed = (payload: string) => {
    const decoded = decodeEvent(encoder.encode(payload));
    return decoded.ok ? "accepted" : claimedEventId(decoded.rejection);
  };

  it("reads the id an invalid payload claims, kept short and on one line", () => {
    expect(claimed('{"id":"not-a-uuid","criticality":99}')).toBe("not-a-uuid");
    expect(claimed(`{"id":"${"a".repeat(100)}\\n"}`)).toHaveLength(36);
    expect(claimed('{"id":"a\\nb"}')).toBe("a b");
  });

  it("is undefined without a JSON object holding a string id", () => {
    expect(claimed("not json")).toBeUndefined();
    expect(claimed('{"id":5}')).toBeUndefined();
    expect(claimed("null")).toBeUndefined();
    expect(claimed("[1]")).toBeUndefined();
  });
});

describe("createDeadLetterPublisher", () => {
  const message = () => {
    const log: string[] = [];
    const msg: HeldMessage = {
      seq: 9,
      subject: "events",
      data: encoder.encode("{oops"),
      info: { deliveryCount: 3 },
      ack: () => log.push("ack"),
      nak: (millis) => log.push(`nak ${millis}`),
      working: () => {},
    };
    return { msg, log };
  };

  it("acknowledges the original only after JetStream confirmed the record", async () => {
    const { msg, log } = message();
    const published: { subject: string; body: string; msgID: string | undefined; headers: MsgHdrs | undefined }[] = [];
    const timeouts: number[] = [];
    const registry = new Registry();
    const publisher = createDeadLetterPublisher({
      timeoutMs: 5_000,
      publisher: {
        publish: async (subject, payload, options) => {
          timeouts.push(options.timeout);
          published.push({
            subject,
            body: new TextDecoder().decode(payload as Uint8Array),
            msgID: options.msgID,
            headers: options.headers,
          });
          log.push("published");
          return { stream: "DEADLETTERS", seq: 1, duplicate: false } as PubAck;
        },
      },
      metrics: createWriterMetrics(registry),
      log: pino({ level: "silent" }),
      deadLetterLog: { recorded: () => {} },
      retry: { initialMs: 100, maxMs: 1_000 },
    });
    await publisher.publish(msg, "NOT_JSON", "payload is not UTF-8 JSON");
    expect(log).toEqual(["published", "ack"]);
    expect(published[0]).toMatchObject({ subject: DEAD_LETTER_SUBJECT, body: "{oops", msgID: "events-9" });
    expect(timeouts).toEqual([5_000]);
    expect(published[0]?.headers?.get(DEAD_LETTER_HEADERS.code)).toBe("NOT_JSON");
    const counted = await registry.getSingleMetric("vigil_writer_events_dead_lettered_total")?.get();
    expect(counted?.values).toEqual([{ labels: { code: "NOT_JSON" }, value: 1 }]);
  });

  it("sends the records of one turn together, as one socket write of the NATS client", async () => {
    // The client queues what is published and writes it to its socket in a microtask after the
    // first publish; the pull loop yields a microtask between messages, as these awaits do.
    let socketWrites = 0;
    let queued = 0;
    const publisher = createDeadLetterPublisher({
      timeoutMs: 5_000,
      publisher: {
        publish: async () => {
          if (queued++ === 0)
            queueMicrotask(() => {
              socketWrites++;
              queued = 0;
            });
          return { stream: "DEADLETTERS", seq: 1, duplicate: false } as PubAck;
        },
      },
      metrics: createWriterMetrics(new Registry()),
      log: pino({ level: "silent" }),
      deadLetterLog: { recorded: () => {} },
      retry: { initialMs: 100, maxMs: 1_000 },
    });
    const acks: string[] = [];
    const records: Promise<void>[] = [];
    for (let seq = 1; seq <= 100; seq++) {
      records.push(publisher.publish({ ...message().msg, seq, ack: () => acks.push(`ack ${seq}`) }, "NOT_JSON", "x"));
      await Promise.resolve();
    }
    await Promise.all(records);
    expect(acks).toHaveLength(100);
    expect(socketWrites).toBe(1);
  });

  it("cuts a payload too large for one record and says how large it was", async () => {
    const { msg, log } = message();
    const big: HeldMessage = { ...msg, data: new Uint8Array(10_000).fill(0x61) };
    const published: { body: Uint8Array; headers: MsgHdrs | undefined }[] = [];
    const publisher = createDeadLetterPublisher({
      timeoutMs: 5_000,
      publisher: {
        publish: async (_subject, payload, options) => {
          published.push({ body: payload as Uint8Array, headers: options.headers });
          return { stream: "DEADLETTERS", seq: 1, duplicate: false } as PubAck;
        },
      },
      metrics: createWriterMetrics(new Registry()),
      log: pino({ level: "silent" }),
      deadLetterLog: { recorded: () => {} },
      retry: { initialMs: 100, maxMs: 1_000 },
      maxBodyBytes: 4_000,
    });
    await publisher.publish(big, "TOO_LARGE", "payload is 10000 bytes, the limit is 8192");
    expect(log).toEqual(["ack"]);
    expect(published[0]?.body.byteLength).toBe(4_000);
    expect(published[0]?.headers?.get(DEAD_LETTER_HEADERS.originalBytes)).toBe("10000");
    await publisher.publish(msg, "NOT_JSON", "small");
    expect(published[1]?.headers?.get(DEAD_LETTER_HEADERS.originalBytes)).toBe("");
  });

  it("hands the message back with a delay, unacknowledged, when the record is not confirmed", async () => {
    const { msg, log } = message();
    const registry = new Registry();
    const publisher = createDeadLetterPublisher({
      timeoutMs: 5_000,
      publisher: {
        publish: async () => {
          throw new Error("no responders");
        },
      },
      metrics: createWriterMetrics(registry),
      log: pino({ level: "silent" }),
      deadLetterLog: { recorded: () => {} },
      retry: { initialMs: 100, maxMs: 1_000 },
    });
    await publisher.publish(msg, "NOT_JSON", "payload is not UTF-8 JSON");
    expect(log).toHaveLength(1);
    // Third delivery: back-off attempt 2, between half of 400ms and all of it.
    const delay = Number(log[0]?.replace("nak ", ""));
    expect(delay).toBeGreaterThanOrEqual(200);
    expect(delay).toBeLessThanOrEqual(400);
    const failures = await registry.getSingleMetric("vigil_writer_dead_letter_failures_total")?.get();
    expect(failures?.values[0]?.value).toBe(1);
  });
});
