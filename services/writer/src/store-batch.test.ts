import { createInfluxHealth, InfluxRejectedError, InfluxUnavailableError } from "@vigil/influx";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { type DeadLetterCode, type DeadLetterPublisher, STORAGE_REJECTED } from "./dead-letter.js";
import { createWriterMetrics } from "./metrics.js";
import type { HeldMessage, PendingEvent } from "./pending-event.js";
import { createBatchStore, createBatchWrite, INFLUX_OUTAGE_MESSAGES } from "./store-batch.js";

const log = pino({ level: "silent" });

type Settled = "acked" | "naked" | "pending";

const pendingEvent = (sequence: number, eventMessage = `event ${sequence}`): PendingEvent & { state: Settled } => {
  const item = {
    state: "pending" as Settled,
    sequence,
    event: { criticality: 5, timestamp: "2024-05-01T12:00:00.000Z", eventMessage, id: crypto.randomUUID() },
    msg: {
      seq: sequence,
      subject: "events",
      data: new Uint8Array(),
      info: { deliveryCount: 1 },
      ack: () => {
        item.state = "acked";
      },
      nak: () => {
        item.state = "naked";
      },
      working: () => {},
    } satisfies HeldMessage,
  };
  return item;
};

/**
 * An in-memory InfluxDB: refuses any request containing a point whose eventMessage says "poison"
 * (as a real one refuses a field type conflict), and is unavailable for the first `outages` writes.
 */
const fakeInflux = (outages = 0) => {
  const stored = new Set<string>();
  const requests: { lines: number; ackedBefore: number }[] = [];
  let failuresLeft = outages;
  let items: { state: Settled }[] = [];
  return {
    stored,
    requests,
    watch: (all: { state: Settled }[]) => {
      items = all;
    },
    async write(body: string) {
      const lines = body.split("\n");
      requests.push({ lines: lines.length, ackedBefore: items.filter((item) => item.state === "acked").length });
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new InfluxUnavailableError("write: InfluxDB at http://x is unreachable (ECONNREFUSED)");
      }
      if (lines.some((line) => line.includes("poison"))) {
        throw new InfluxRejectedError(
          'write: InfluxDB answered 400: partial write: field type conflict: input field "eventMessage" dropped=1',
          400,
        );
      }
      for (const line of lines) stored.add(line.split(" ").at(-1) as string);
    },
  };
};

const recordingDeadLetters = () => {
  const letters: { seq: number; code: DeadLetterCode; reason: string; eventId: string | undefined }[] = [];
  const publisher: DeadLetterPublisher = {
    async publish(msg, code, reason, eventId) {
      letters.push({ seq: msg.seq, code, reason, eventId });
      msg.ack();
    },
  };
  return { letters, publisher };
};

const setup = (outages = 0, giveUp = new AbortController().signal) => {
  const influx = fakeInflux(outages);
  const deadLetters = recordingDeadLetters();
  const registry = new Registry();
  const metrics = createWriterMetrics(registry);
  const health = createInfluxHealth(log, INFLUX_OUTAGE_MESSAGES);
  const store = createBatchStore(
    { influx, deadLetters: deadLetters.publisher, metrics, health, log },
    { initialMs: 1, maxMs: 2 },
    giveUp,
  );
  const metric = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return { influx, deadLetters, store, health, metric };
};

describe("createBatchStore", () => {
  it("writes a batch in one request and acknowledges every message after it", async () => {
    const { influx, store, metric } = setup();
    const batch = Array.from({ length: 10 }, (_, i) => pendingEvent(i + 1));
    influx.watch(batch);
    await store(batch);
    expect(influx.requests).toEqual([{ lines: 10, ackedBefore: 0 }]);
    expect(batch.every((item) => item.state === "acked")).toBe(true);
    expect(influx.stored.size).toBe(10);
    expect((await metric("vigil_writer_events_written_total"))[0]?.value).toBe(10);
  });

  it("bisects a rejected batch: good points are written and acknowledged, refused ones dead-lettered", async () => {
    const { influx, deadLetters, store, metric } = setup();
    const batch = Array.from({ length: 64 }, (_, i) =>
      pendingEvent(i + 1, i === 9 || i === 40 ? "poison pill" : `event ${i + 1}`),
    );
    influx.watch(batch);
    await store(batch);
    expect(deadLetters.letters.map(({ seq, code, eventId }) => ({ seq, code, eventId }))).toEqual([
      { seq: 10, code: STORAGE_REJECTED, eventId: batch[9]?.event.id },
      { seq: 41, code: STORAGE_REJECTED, eventId: batch[40]?.event.id },
    ]);
    expect(deadLetters.letters[0]?.reason).toMatch(/field type conflict/);
    expect(batch.every((item) => item.state === "acked")).toBe(true);
    expect(influx.stored.size).toBe(62);
    // Isolating 2 bad points among 64 takes a few requests per level, not one per point.
    expect(influx.requests.length).toBeLessThanOrEqual(1 + 2 * 2 * Math.log2(64));
    expect((await metric("vigil_writer_events_written_total"))[0]?.value).toBe(62);
  });

  it("keeps retrying the same batch while InfluxDB is unavailable, acknowledging nothing until it is written", async () => {
    const { influx, store, health, metric } = setup(3);
    const batch = Array.from({ length: 5 }, (_, i) => pendingEvent(i + 1));
    influx.watch(batch);
    await store(batch);
    expect(influx.requests).toEqual([
      { lines: 5, ackedBefore: 0 },
      { lines: 5, ackedBefore: 0 },
      { lines: 5, ackedBefore: 0 },
      { lines: 5, ackedBefore: 0 },
    ]);
    expect(batch.every((item) => item.state === "acked")).toBe(true);
    expect(health.reachable()).toBe(true);
    const failures = await metric("vigil_writer_write_failures_total");
    expect(failures.find((value) => value.labels.reason === "unavailable")?.value).toBe(3);
  });

  it("hands the batch back unacknowledged once the shutdown deadline passed", async () => {
    const giveUp = new AbortController();
    const { influx, store, health } = setup(Number.POSITIVE_INFINITY, giveUp.signal);
    const batch = Array.from({ length: 3 }, (_, i) => pendingEvent(i + 1));
    const storing = store(batch);
    await expect.poll(() => influx.requests.length).toBeGreaterThan(1);
    expect(health.reachable()).toBe(false);
    giveUp.abort();
    await storing;
    expect(batch.map((item) => item.state)).toEqual(["naked", "naked", "naked"]);
  });
});

describe("createBatchWrite", () => {
  const writeSetup = (outages: number, giveUp = new AbortController().signal) => {
    const influx = fakeInflux(outages);
    const metrics = createWriterMetrics(new Registry());
    const health = createInfluxHealth(log, INFLUX_OUTAGE_MESSAGES);
    return { influx, health, write: createBatchWrite({ influx, metrics, health }, { initialMs: 1, maxMs: 2 }, giveUp) };
  };

  it("answers written once InfluxDB confirms, after retrying while it is unavailable, and settles no message", async () => {
    const { influx, health, write } = writeSetup(2);
    const batch = [pendingEvent(1), pendingEvent(2)];
    expect(await write(batch)).toEqual({ kind: "written" });
    expect(influx.requests).toHaveLength(3);
    expect(health.reachable()).toBe(true);
    expect(batch.map((item) => item.state)).toEqual(["pending", "pending"]);
  });

  it("answers rejected with InfluxDB's error, without retrying", async () => {
    const { influx, health, write } = writeSetup(0);
    const outcome = await write([pendingEvent(1, "poison pill")]);
    expect(outcome.kind).toBe("rejected");
    expect(outcome.kind === "rejected" && outcome.error.message).toMatch(/field type conflict/);
    expect(influx.requests).toHaveLength(1);
    expect(health.reachable()).toBe(true);
  });

  it("answers abandoned without a request once giveUp has aborted", async () => {
    const { influx, write } = writeSetup(0, AbortSignal.abort());
    expect(await write([pendingEvent(1)])).toEqual({ kind: "abandoned" });
    expect(influx.requests).toEqual([]);
  });
});
