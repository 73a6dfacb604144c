import { headers } from "@nats-io/nats-core";
import { DEAD_LETTER_HEADERS, encodeEvent } from "@vigil/shared";
import { describe, expect, it } from "vitest";
import { listDeadLetters } from "./list.js";
import { type DeadLetterRecord, toDeadLetterRecord } from "./record.js";
import { type ReplayAck, type ReplayOutcome, replayDeadLetters, replayMsgId } from "./replay.js";
import type { DeadLetterStore } from "./store.js";

const encoder = new TextEncoder();

const validPayload = (n: number, bytes = 0) =>
  encodeEvent({
    criticality: 3,
    timestamp: "2024-05-01T12:00:00Z",
    eventMessage: `event ${n}${"x".repeat(bytes)}`,
    id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
  });

const record = (seq: number, code: string, payload: Uint8Array): DeadLetterRecord => {
  const h = headers();
  h.set(DEAD_LETTER_HEADERS.code, code);
  h.set(DEAD_LETTER_HEADERS.reason, `reason ${seq}`);
  return toDeadLetterRecord({ seq, storedAt: new Date(0), headers: h, data: payload });
};

/** An in-memory DEADLETTERS that can be told to fail its next delete. */
const memoryStore = (records: DeadLetterRecord[]) => {
  const held = new Map(records.map((one) => [one.seq, one]));
  let failNextRemove = false;
  const store: DeadLetterStore = {
    async bounds() {
      const seqs = [...held.keys()];
      return seqs.length === 0
        ? { count: 0, first: 0, last: 0 }
        : { count: seqs.length, first: Math.min(...seqs), last: Math.max(...seqs) };
    },
    async get(seq) {
      return held.get(seq);
    },
    async *read(from, until) {
      const inRange = [...held.values()].filter((one) => one.seq >= from && one.seq <= until);
      yield* inRange.sort((a, b) => a.seq - b.seq);
    },
    async remove(seq) {
      if (failNextRemove) {
        failNextRemove = false;
        throw new Error("delete refused");
      }
      held.delete(seq);
    },
  };
  return {
    store,
    held,
    failNextRemove: () => {
      failNextRemove = true;
    },
  };
};

/** The events stream as replay sees it: dedupes by msgId, as JetStream does within its window. */
const eventsStream = () => {
  const stored: { payload: Uint8Array; msgId: string }[] = [];
  let refuse = false;
  return {
    stored,
    refuse: () => {
      refuse = true;
    },
    async publish(payload: Uint8Array, msgId: string): Promise<ReplayAck> {
      if (refuse) throw new Error("no responders");
      const earlier = stored.findIndex((one) => one.msgId === msgId);
      if (earlier >= 0) return { seq: earlier + 1, duplicate: true };
      stored.push({ payload, msgId });
      return { seq: stored.length, duplicate: false };
    },
  };
};

const run = async (
  deps: { store: DeadLetterStore; publish: (p: Uint8Array, id: string) => Promise<ReplayAck> },
  selection: Parameters<typeof replayDeadLetters>[1],
  options = { keep: false, force: false },
) => {
  const outcomes: ReplayOutcome[] = [];
  await replayDeadLetters({ ...deps, maxEventBytes: 8_192 }, selection, options, (o) => outcomes.push(o));
  return outcomes;
};

const summary = (outcomes: ReplayOutcome[]) => outcomes.map((o) => `${o.kind} ${"record" in o ? o.record.seq : o.seq}`);

describe("replayDeadLetters", () => {
  it("publishes each named record's payload under replay-<seq>, then deletes the record", async () => {
    const { store, held } = memoryStore([
      record(4, "TOO_LARGE", validPayload(4)),
      record(9, "STORAGE_REJECTED", validPayload(9)),
    ]);
    const stream = eventsStream();
    const outcomes = await run({ store, publish: stream.publish }, { kind: "sequences", sequences: [9, 4] });
    expect(summary(outcomes)).toEqual(["replayed 9", "replayed 4"]);
    expect(stream.stored.map((one) => one.msgId)).toEqual([replayMsgId(9), replayMsgId(4)]);
    expect(stream.stored[0]?.payload).toEqual(validPayload(9));
    expect(held.size).toBe(0);
  });

  it("reports sequences that are not there and goes on with the rest", async () => {
    const { store } = memoryStore([record(2, "TOO_LARGE", validPayload(2))]);
    const stream = eventsStream();
    const outcomes = await run({ store, publish: stream.publish }, { kind: "sequences", sequences: [1, 2] });
    expect(summary(outcomes)).toEqual(["missing 1", "replayed 2"]);
  });

  it("skips and keeps payloads the writers would refuse again, unless forced", async () => {
    const notJson = record(1, "NOT_JSON", encoder.encode("{oops"));
    const tooLarge = record(2, "TOO_LARGE", validPayload(2, 9_000));
    const { store, held } = memoryStore([notJson, tooLarge]);
    const stream = eventsStream();
    const outcomes = await run({ store, publish: stream.publish }, { kind: "all", code: undefined });
    expect(outcomes).toEqual([
      { kind: "skipped", record: notJson, reason: expect.stringMatching(/^NOT_JSON: payload is not UTF-8 JSON/) },
      { kind: "skipped", record: tooLarge, reason: expect.stringMatching(/^TOO_LARGE: payload is \d+ bytes/) },
    ]);
    expect(stream.stored).toHaveLength(0);
    expect(held.size).toBe(2);

    const forced = await run(
      { store, publish: stream.publish },
      { kind: "all", code: undefined },
      { keep: false, force: true },
    );
    expect(summary(forced)).toEqual(["replayed 1", "replayed 2"]);
    expect(held.size).toBe(0);
  });

  it("with --all takes only the records of the code asked for, oldest first", async () => {
    const { store, held } = memoryStore([
      record(5, "STORAGE_REJECTED", validPayload(5)),
      record(3, "TOO_LARGE", validPayload(3)),
      record(8, "STORAGE_REJECTED", validPayload(8)),
    ]);
    const stream = eventsStream();
    const outcomes = await run({ store, publish: stream.publish }, { kind: "all", code: "STORAGE_REJECTED" });
    expect(summary(outcomes)).toEqual(["replayed 5", "replayed 8"]);
    expect([...held.keys()]).toEqual([3]);
  });

  it("with --keep keeps the records, and a second replay is a duplicate the stream stores once", async () => {
    const { store, held } = memoryStore([record(6, "TOO_LARGE", validPayload(6))]);
    const stream = eventsStream();
    const selection = { kind: "sequences", sequences: [6] } as const;
    const first = await run({ store, publish: stream.publish }, selection, { keep: true, force: false });
    const second = await run({ store, publish: stream.publish }, selection, { keep: true, force: false });
    expect(first).toMatchObject([{ kind: "replayed", ack: { duplicate: false }, deleted: false }]);
    expect(second).toMatchObject([{ kind: "replayed", ack: { duplicate: true }, deleted: false }]);
    expect(stream.stored).toHaveLength(1);
    expect(held.has(6)).toBe(true);
  });

  it("stops at a publish the stream does not confirm, keeping that record and the ones after it", async () => {
    const { store, held } = memoryStore([
      record(1, "TOO_LARGE", validPayload(1)),
      record(2, "TOO_LARGE", validPayload(2)),
    ]);
    const stream = eventsStream();
    stream.refuse();
    const outcomes = await run({ store, publish: stream.publish }, { kind: "all", code: undefined });
    expect(outcomes).toEqual([{ kind: "failed", seq: 1, stage: "publish", error: new Error("no responders") }]);
    expect(held.size).toBe(2);
  });

  it("stops when a replayed record cannot be deleted; running again stores it once and deletes it", async () => {
    const { store, held, failNextRemove } = memoryStore([
      record(1, "TOO_LARGE", validPayload(1)),
      record(2, "TOO_LARGE", validPayload(2)),
    ]);
    const stream = eventsStream();
    failNextRemove();
    const outcomes = await run({ store, publish: stream.publish }, { kind: "all", code: undefined });
    expect(outcomes).toMatchObject([{ kind: "failed", seq: 1, stage: "delete", ack: { seq: 1 } }]);
    expect(held.size).toBe(2);
    const again = await run({ store, publish: stream.publish }, { kind: "all", code: undefined });
    expect(again).toMatchObject([
      { kind: "replayed", record: { seq: 1 }, ack: { duplicate: true } },
      { kind: "replayed", record: { seq: 2 }, ack: { duplicate: false } },
    ]);
    expect(stream.stored).toHaveLength(2);
    expect(held.size).toBe(0);
  });
});

describe("listDeadLetters", () => {
  const records = [1, 2, 4, 7, 8].map((seq) =>
    record(seq, seq % 2 === 0 ? "TOO_LARGE" : "NOT_JSON", validPayload(seq)),
  );

  it("returns a page oldest first and where the next one starts", async () => {
    const { store } = memoryStore(records);
    const page = await listDeadLetters(store, { limit: 2, from: undefined, code: undefined });
    expect(page.records.map((one) => one.seq)).toEqual([1, 2]);
    expect(page.next).toBe(4);
    expect(page.bounds).toEqual({ count: 5, first: 1, last: 8 });
    const rest = await listDeadLetters(store, { limit: 10, from: page.next, code: undefined });
    expect(rest.records.map((one) => one.seq)).toEqual([4, 7, 8]);
    expect(rest.next).toBeUndefined();
  });

  it("filters by code, counting only matching records against the limit", async () => {
    const { store } = memoryStore(records);
    const page = await listDeadLetters(store, { limit: 2, from: undefined, code: "TOO_LARGE" });
    expect(page.records.map((one) => one.seq)).toEqual([2, 4]);
    expect(page.next).toBe(8);
  });

  it("returns nothing for an empty or missing stream", async () => {
    expect(await listDeadLetters(memoryStore([]).store, { limit: 5, from: undefined, code: undefined })).toEqual({
      records: [],
      bounds: { count: 0, first: 0, last: 0 },
      next: undefined,
    });
    const missing: DeadLetterStore = { ...memoryStore([]).store, bounds: async () => undefined };
    expect((await listDeadLetters(missing, { limit: 5, from: undefined, code: undefined })).bounds).toBeUndefined();
  });
});
