/**
 * A flood of invalid messages mixed with valid ones, published through JetStream: every valid
 * event is stored once, every invalid message is recorded once in DEADLETTERS with its reason,
 * and none of them holds up the others. The writer runs as a process from `dist/`.
 */
import { randomUUID } from "node:crypto";
import { type JsMsg, jetstream } from "@nats-io/jetstream";
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_STREAM,
  EVENTS_SUBJECT,
  encodeEvent,
  type SecurityEvent,
} from "@vigil/shared";
import type { RunningService } from "@vigil/testing";
import { beforeAll, describe, expect, it } from "vitest";
import {
  expectStoredExactlyOnce,
  publishConfirmed,
  storedIds,
  usePipeline,
  waitUntilDrained,
  writerEnv,
} from "./pipeline.js";

const VALID = 2_000;
const INVALID = 2_000;
const encoder = new TextEncoder();

const validEvent = (n: number): SecurityEvent => ({
  criticality: n % 11,
  timestamp: new Date(Date.UTC(2024, 4, 1, 12, 0, 0, n)).toISOString(),
  eventMessage: `valid event ${n}`,
  id: randomUUID(),
  source: "fault-test",
});

/** One kind of bad payload, and the code the writer must give it. */
interface Invalid {
  readonly code: string;
  readonly payload: (n: number) => Uint8Array;
}

const KINDS: readonly Invalid[] = [
  { code: "NOT_JSON", payload: (n) => encoder.encode(`{not json ${n}`) },
  { code: "NOT_JSON", payload: (n) => new Uint8Array([0x7b, 0xff, 0xfe, n % 256, 0x7d]) },
  { code: "NOT_JSON", payload: () => new Uint8Array() },
  { code: "INVALID_EVENT", payload: (n) => encodeEvent({ ...validEvent(n), criticality: 11 }) },
  { code: "INVALID_EVENT", payload: (n) => encoder.encode(JSON.stringify({ criticality: 3, timestamp: `t${n}` })) },
  { code: "INVALID_EVENT", payload: (n) => encoder.encode(JSON.stringify([n])) },
  { code: "INVALID_EVENT", payload: (n) => encodeEvent({ ...validEvent(n), id: `not-a-uuid-${n}` }) },
  { code: "TOO_LARGE", payload: (n) => encodeEvent({ ...validEvent(n), eventMessage: `${n}`.padEnd(9_000, "x") }) },
];

describe("a flood of invalid messages among valid ones", () => {
  const pipeline = usePipeline("faults_bad_input");
  let writer: RunningService;
  const acknowledged = new Set<string>();
  /** Expected code of each invalid message, by its events stream sequence. */
  const invalidAt = new Map<number, { code: string; payload: Uint8Array }>();

  beforeAll(async () => {
    const { nats, influx } = pipeline;
    // The default ack wait: this scenario needs no quick redelivery.
    writer = await pipeline.start("writer", writerEnv(nats.url, influx.config("writer"), { WRITER_ACK_WAIT: "30s" }));

    // Interleaved in a fixed pseudo-random order, published while the writer is consuming.
    const items: ({ valid: SecurityEvent } | { invalid: Invalid; payload: Uint8Array })[] = [];
    for (let n = 0; n < VALID; n++) items.push({ valid: validEvent(n) });
    for (let n = 0; n < INVALID; n++) {
      const kind = KINDS[n % KINDS.length] as Invalid;
      items.push({ invalid: kind, payload: kind.payload(n) });
    }
    let state = 7;
    for (let i = items.length - 1; i > 0; i--) {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      const j = state % (i + 1);
      [items[i], items[j]] = [items[j] as (typeof items)[number], items[i] as (typeof items)[number]];
    }
    const sequences = await publishConfirmed(
      pipeline.nc,
      items.map((item) => ("valid" in item ? encodeEvent(item.valid) : item.payload)),
    );
    items.forEach((item, index) => {
      const seq = sequences[index] as number;
      if ("valid" in item) acknowledged.add(item.valid.id as string);
      else invalidAt.set(seq, { code: item.invalid.code, payload: item.payload });
    });
    await waitUntilDrained(pipeline.jsm);
  });

  it("stores every valid event exactly once", async () => {
    expect(acknowledged.size).toBe(VALID);
    expectStoredExactlyOnce(await storedIds(pipeline.influx.client("reader")), acknowledged);
    // At least: a redelivered event is written again, onto the same point (checked above).
    expect(await writer.metric("vigil_writer_events_written_total")).toBeGreaterThanOrEqual(VALID);
  });

  it("records every invalid message once in DEADLETTERS, with its code, a reason and the original payload", async () => {
    const { state } = await pipeline.jsm.streams.info(DEAD_LETTER_STREAM);
    expect(state.messages).toBe(INVALID);
    const records: JsMsg[] = [];
    const reader = await jetstream(pipeline.nc).consumers.get(DEAD_LETTER_STREAM);
    for await (const msg of await reader.fetch({ max_messages: INVALID, expires: 10_000 })) {
      records.push(msg);
      if (msg.info.pending === 0) break;
    }
    await reader.delete();
    expect(records).toHaveLength(INVALID);

    const recorded = new Set<number>();
    for (const record of records) {
      const original = Number(record.headers?.get(DEAD_LETTER_HEADERS.streamSequence));
      const expected = invalidAt.get(original);
      expect(expected, `dead letter for events seq ${original}`).toBeDefined();
      expect(record.headers?.get(DEAD_LETTER_HEADERS.code)).toBe(expected?.code);
      expect(record.headers?.get(DEAD_LETTER_HEADERS.reason)?.length).toBeGreaterThan(0);
      expect(record.headers?.get(DEAD_LETTER_HEADERS.subject)).toBe(EVENTS_SUBJECT);
      // As hex: encodeEvent returns pooled Buffers, which do not compare equal to a Uint8Array as objects.
      expect(Buffer.from(record.data).toString("hex")).toBe(Buffer.from(expected?.payload ?? []).toString("hex"));
      recorded.add(original);
    }
    expect(recorded.size).toBe(INVALID);
    expect(await writer.metric("vigil_writer_events_dead_lettered_total")).toBeGreaterThanOrEqual(INVALID);
  });
});
