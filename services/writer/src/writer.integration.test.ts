import { randomUUID } from "node:crypto";
import {
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { decodeEventRows, EVENTS_MEASUREMENT, type InfluxClient, latestEventsStatement } from "@vigil/influx";
import { ensureDeadLetterStream, ensureEventsStream } from "@vigil/runtime";
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_STREAM,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  encodeEvent,
  type SecurityEvent,
  WRITER_CONSUMER,
} from "@vigil/shared";
import { type Influxd, type NatsServer, removeStreams, startInfluxd, startNatsServer, waitFor } from "@vigil/testing";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig, type WriterSettings } from "./config.js";
import { ensureWriterConsumer } from "./consumer.js";
import { STORAGE_REJECTED } from "./dead-letter.js";
import { startWriter, type Writer } from "./writer.js";

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const encoder = new TextEncoder();
const ACK_WAIT_MS = 2_000;

// Small batches and short back-off, so every path is exercised quickly with a few hundred events.
const baseSettings: WriterSettings = loadConfig({
  WRITER_BATCH_SIZE: "200",
  WRITER_FLUSH_INTERVAL: "20ms",
  WRITER_RETRY_INITIAL: "50ms",
  WRITER_RETRY_MAX: "400ms",
  WRITER_SHUTDOWN_TIMEOUT: "3s",
  WRITER_POLL_INTERVAL: "500ms",
  WRITER_ACK_WAIT: `${ACK_WAIT_MS}ms`,
  WRITER_MAX_IN_FLIGHT: "2000",
}).settings;

const event = (i: number, overrides: Partial<SecurityEvent> = {}): SecurityEvent => ({
  criticality: i % 11,
  timestamp: new Date(Date.UTC(2024, 4, 1, 12, 0, 0, i)).toISOString(),
  eventMessage: `event ${i}`,
  id: randomUUID(),
  source: "test",
  ...overrides,
});

interface TestWriter {
  readonly writer: Writer;
  readonly registry: Registry;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Stops the writer and drains its connection, as `main.ts` does. */
  stop(): Promise<void>;
}

describe("writer", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let database: string;
  let databases = 0;
  const running: TestWriter[] = [];

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("writer_tests")]);
    nc = await connect({ servers: nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await nc?.close();
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  beforeEach(async () => {
    // Fresh streams (sequences restart at 1) and a fresh database for every test.
    await removeStreams(jsm, EVENTS_STREAM, DEAD_LETTER_STREAM);
    await ensureEventsStream(jsm, baseSettings.streams, log);
    await ensureWriterConsumer(jsm, baseSettings.consumer, log);
    await ensureDeadLetterStream(jsm, baseSettings.streams, log);
    database = `writer_${++databases}`;
    await influx.createDatabase(database);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((one) => one.stop()));
  });

  const launch = async (overrides: Partial<WriterSettings> = {}, client?: InfluxClient): Promise<TestWriter> => {
    const writerNc = await connect({ servers: nats.url });
    const registry = new Registry();
    const writer = await startWriter(
      { nc: writerNc, influx: client ?? influx.client("writer", database), log, registry },
      { ...baseSettings, ...overrides },
    );
    let stopped: Promise<void> | undefined;
    const one: TestWriter = {
      writer,
      registry,
      async metric(name, labels = {}) {
        const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
        return values
          .filter((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))
          .reduce((sum, value) => sum + value.value, 0);
      },
      stop() {
        stopped ??= writer.stop().then(() => writerNc.drain());
        return stopped;
      },
    };
    running.push(one);
    return one;
  };

  /** Publishes payloads through JetStream; resolves with their stream sequences. */
  const publish = async (payloads: readonly Uint8Array[]): Promise<number[]> => {
    const sequences: number[] = [];
    for (let start = 0; start < payloads.length; start += 250) {
      const acks = await Promise.all(payloads.slice(start, start + 250).map((p) => js.publish(EVENTS_SUBJECT, p)));
      sequences.push(...acks.map((ack) => ack.seq));
    }
    return sequences;
  };

  const reader = () => influx.client("reader", database);

  const storedCount = async (): Promise<number> => {
    const series = await reader().query(`SELECT COUNT("timestamp") FROM "${EVENTS_MEASUREMENT}"`);
    return Number(series[0]?.values[0]?.[1] ?? 0);
  };

  const storedIds = async (): Promise<string[]> => {
    const series = await reader().query(`SELECT "id" FROM "${EVENTS_MEASUREMENT}"`);
    return (series[0]?.values ?? []).map((row) => String(row[1]));
  };

  const storedEvents = async (): Promise<SecurityEvent[]> => {
    const query = latestEventsStatement(-1, 10_000);
    if (query === undefined) throw new Error("every criticality qualifies above -1");
    return decodeEventRows(await reader().query(query.statement, query.params));
  };

  const consumerState = async () => {
    const info = await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER);
    return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  };

  const waitUntilConsumed = (what: string) =>
    waitFor(what, async () => {
      const state = await consumerState();
      return state.pending === 0 && state.ackPending === 0;
    });

  const deadLetters = async (count: number): Promise<JsMsg[]> => {
    await waitFor(
      `${count} dead letters`,
      async () => (await jsm.streams.info(DEAD_LETTER_STREAM)).state.messages >= count,
    );
    const consumer = await js.consumers.get(DEAD_LETTER_STREAM);
    const letters: JsMsg[] = [];
    for await (const msg of await consumer.fetch({ max_messages: count, expires: 5_000 })) {
      letters.push(msg);
      if (letters.length === count) break;
    }
    return letters;
  };

  const byId = (a: SecurityEvent, b: SecurityEvent) => (a.id ?? "").localeCompare(b.id ?? "");

  it("stores valid events with every field intact and acknowledges them", async () => {
    const published = [
      event(1, {
        criticality: 10,
        eventMessage: 'He said "stop" \\ C:\\temp\\x.exe\nsecond line\ttab, Grüße 🚨 naïve — 日本語',
        timestamp: "2024-05-01T14:00:00.123456+02:00",
      }),
      event(2, { criticality: 0, eventMessage: "\\", timestamp: "2024-05-01T12:00:00Z" }),
      event(3, { criticality: 7, eventMessage: '"', source: "ids.sensor-01_eu" }),
      ...Array.from({ length: 297 }, (_, i) => event(i + 4)),
    ];
    await publish(published.map(encodeEvent));
    const writer = await launch();

    await waitUntilConsumed("every event to be acknowledged");
    expect((await storedEvents()).sort(byId)).toEqual([...published].sort(byId));
    const tags = await reader().query(`SHOW TAG VALUES FROM "${EVENTS_MEASUREMENT}" WITH KEY = "criticality"`);
    expect((tags[0]?.values ?? []).map((row) => Number(row[1])).sort((a, b) => a - b)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(await writer.metric("vigil_writer_events_written_total")).toBe(300);
    expect(await writer.metric("vigil_writer_events_received_total")).toBe(300);
    expect(writer.writer.influxReachable()).toBe(true);
  });

  describe("start order", () => {
    beforeEach(async () => {
      await removeStreams(jsm, EVENTS_STREAM, DEAD_LETTER_STREAM);
    });

    it("stores what a producer published before any writer or consumer existed (producer first)", async () => {
      // What the daemon does at start: the stream only, no consumer.
      await ensureEventsStream(jsm, baseSettings.streams, log);
      const published = Array.from({ length: 300 }, (_, i) => event(i));
      await publish(published.map(encodeEvent));
      await expect(jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).rejects.toThrow(/consumer not found/i);

      await launch();
      await waitUntilConsumed("every event published before the writer to be acknowledged");
      expect((await storedEvents()).sort(byId)).toEqual([...published].sort(byId));
    });

    it("creates the streams and its consumer when it starts first, and stores what is published afterwards", async () => {
      await launch();
      expect((await jsm.streams.info(EVENTS_STREAM)).config.retention).toBe("workqueue");
      expect((await jsm.streams.info(DEAD_LETTER_STREAM)).config.name).toBe(DEAD_LETTER_STREAM);
      const published = Array.from({ length: 300 }, (_, i) => event(i));
      await publish(published.map(encodeEvent));
      await waitUntilConsumed("every event to be acknowledged");
      expect((await storedEvents()).sort(byId)).toEqual([...published].sort(byId));
    });

    it("creates its consumer with WRITER_MAX_IN_FLIGHT and WRITER_ACK_WAIT, and corrects one that differs", async () => {
      const { consumer } = loadConfig({ WRITER_MAX_IN_FLIGHT: "321", WRITER_ACK_WAIT: "45s" }).settings;
      await (await launch({ consumer })).stop();
      expect((await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).config).toMatchObject({
        durable_name: WRITER_CONSUMER,
        ack_policy: "explicit",
        deliver_policy: "all",
        filter_subject: EVENTS_SUBJECT,
        max_ack_pending: 321,
        ack_wait: nanos(45_000),
        max_deliver: -1,
      });
      await launch();
      expect((await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).config).toMatchObject({
        max_ack_pending: baseSettings.consumer.maxAckPending,
        ack_wait: nanos(baseSettings.consumer.ackWaitMs),
      });
    });
  });

  it("stores an event from an external producer that sends only the three required fields", async () => {
    const minimal = { criticality: 4, timestamp: "2024-05-01T12:00:00.5-05:30", eventMessage: "minimal" };
    await publish([encoder.encode(JSON.stringify({ ...minimal, extra: "ignored" }))]);
    await launch();

    await waitUntilConsumed("the event to be acknowledged");
    expect(await storedEvents()).toEqual([minimal]);
  });

  it("stores 1,000 events carrying one identical timestamp as 1,000 points", async () => {
    const timestamp = "2024-05-01T12:00:00.000Z";
    const published = Array.from({ length: 1_000 }, (_, i) => event(i, { timestamp, criticality: 5 }));
    await publish(published.map(encodeEvent));
    await launch();

    await waitUntilConsumed("every event to be acknowledged");
    expect(await storedCount()).toBe(1_000);
    expect(new Set(await storedIds())).toEqual(new Set(published.map((e) => e.id)));
  });

  it("dead-letters invalid payloads with code, reason and original body, and stores the valid ones between them", async () => {
    const invalid: { payload: Uint8Array; code: string; reason: RegExp }[] = [
      { payload: encoder.encode("{not json"), code: "NOT_JSON", reason: /not UTF-8 JSON/ },
      { payload: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), code: "NOT_JSON", reason: /not UTF-8 JSON/ },
      {
        payload: encoder.encode(JSON.stringify({ ...event(0), criticality: 11 })),
        code: "INVALID_EVENT",
        reason: /criticality/,
      },
      {
        payload: encoder.encode(JSON.stringify({ criticality: 3, timestamp: "2024-05-01T12:00:00Z" })),
        code: "INVALID_EVENT",
        reason: /eventMessage/,
      },
      {
        payload: encoder.encode(JSON.stringify({ ...event(0), timestamp: "yesterday" })),
        code: "INVALID_EVENT",
        reason: /timestamp/,
      },
      {
        payload: encoder.encode(JSON.stringify({ ...event(0), eventMessage: "x".repeat(9_000) })),
        code: "TOO_LARGE",
        reason: /bytes, the limit is 8192/,
      },
    ];
    // Twenty valid events before each invalid payload, and twenty after the last.
    const valid: SecurityEvent[] = [];
    const payloads: Uint8Array[] = [];
    const addValid = () => {
      const twenty = Array.from({ length: 20 }, (_, i) => event(valid.length + i));
      valid.push(...twenty);
      payloads.push(...twenty.map(encodeEvent));
    };
    for (const bad of invalid) {
      addValid();
      payloads.push(bad.payload);
    }
    addValid();
    const sequences = await publish(payloads);
    const before = Date.now();
    const writer = await launch();

    await waitUntilConsumed("every message to be acknowledged");
    expect((await storedEvents()).sort(byId)).toEqual([...valid].sort(byId));
    const letters = await deadLetters(invalid.length);
    expect(letters).toHaveLength(invalid.length);
    for (const letter of letters) {
      const sequence = Number(letter.headers?.get(DEAD_LETTER_HEADERS.streamSequence));
      const original = payloads[sequences.indexOf(sequence)];
      const expected = invalid.find((one) => one.payload === original);
      expect(expected, `dead letter for sequence ${sequence}`).toBeDefined();
      expect(new Uint8Array(letter.data)).toEqual(expected?.payload);
      expect(letter.headers?.get(DEAD_LETTER_HEADERS.code)).toBe(expected?.code);
      expect(letter.headers?.get(DEAD_LETTER_HEADERS.reason)).toMatch(expected?.reason as RegExp);
      expect(letter.headers?.get(DEAD_LETTER_HEADERS.subject)).toBe(EVENTS_SUBJECT);
      expect(Date.parse(letter.headers?.get(DEAD_LETTER_HEADERS.rejectedAt) ?? "")).toBeGreaterThanOrEqual(
        before - 1_000,
      );
    }
    expect(await writer.metric("vigil_writer_events_dead_lettered_total", { code: "NOT_JSON" })).toBe(2);
    expect(await writer.metric("vigil_writer_events_dead_lettered_total", { code: "INVALID_EVENT" })).toBe(3);
    expect(await writer.metric("vigil_writer_events_dead_lettered_total", { code: "TOO_LARGE" })).toBe(1);
  });

  it("isolates an event InfluxDB refuses, dead-letters it as STORAGE_REJECTED and stores the rest of its batch", async () => {
    // A point already stored with an integer eventMessage makes InfluxDB refuse string ones in
    // that shard (early 2001) with a field type conflict; other shards are unaffected.
    await influx
      .client("admin", database)
      .write(`${EVENTS_MEASUREMENT},criticality=1 eventMessage=1i 978307200000000000`);
    const doomed = event(0, { timestamp: "2001-01-01T00:00:01Z", criticality: 1 });
    const valid = Array.from({ length: 150 }, (_, i) => event(i + 1));
    const payloads = [...valid.slice(0, 75), doomed, ...valid.slice(75)].map(encodeEvent);
    const sequences = await publish(payloads);
    const writer = await launch({ batchSize: 1_000, flushIntervalMs: 200 });

    await waitUntilConsumed("every message to be acknowledged");
    const [letter] = await deadLetters(1);
    expect(letter?.headers?.get(DEAD_LETTER_HEADERS.code)).toBe(STORAGE_REJECTED);
    expect(letter?.headers?.get(DEAD_LETTER_HEADERS.reason)).toMatch(/field type conflict/);
    expect(Number(letter?.headers?.get(DEAD_LETTER_HEADERS.streamSequence))).toBe(sequences[75]);
    expect(Buffer.from(letter?.data ?? [])).toEqual(Buffer.from(payloads[75] ?? []));
    // Compared by id: InfluxDB reads eventMessage as an integer column now that one shard has it so.
    expect(await storedCount()).toBe(150);
    expect(new Set(await storedIds())).toEqual(new Set(valid.map((e) => e.id)));
    expect(await writer.metric("vigil_writer_write_failures_total", { reason: "rejected" })).toBeGreaterThan(0);
  });

  it("hands an invalid message back while the dead-letter stream cannot take it, and records it once it can", async () => {
    const writer = await launch();
    await jsm.streams.delete(DEAD_LETTER_STREAM);
    const [sequence] = await publish([encoder.encode("{not json")]);

    await waitFor("a failed dead-letter publish", async () => {
      return (await writer.metric("vigil_writer_dead_letter_failures_total")) >= 2;
    });
    // Not acknowledged: the events stream still holds it.
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(1);
    expect(await writer.metric("vigil_writer_events_dead_lettered_total")).toBe(0);

    await ensureDeadLetterStream(jsm, baseSettings.streams, log);
    const [letter] = await deadLetters(1);
    expect(Number(letter?.headers?.get(DEAD_LETTER_HEADERS.streamSequence))).toBe(sequence);
    await waitUntilConsumed("the message to be acknowledged");
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(0);
  });

  it("does not create a second point when a message written but never acknowledged is redelivered", async () => {
    const published = Array.from({ length: 200 }, (_, i) => event(i));
    await publish(published.map(encodeEvent));
    // Writes really reach InfluxDB, but the confirmation never reaches the writer, so it never acknowledges.
    const real = influx.client("writer", database);
    const unconfirmed: InfluxClient = {
      write: async (lines) => {
        await real.write(lines);
        await new Promise<never>(() => {});
      },
      query: (statement, params) => real.query(statement, params),
      ping: () => real.ping(),
    };
    const first = await launch({ shutdownTimeoutMs: 200 }, unconfirmed);
    await waitFor("the first writer's points", async () => (await storedCount()) === 200);
    expect((await consumerState()).ackPending).toBe(200);
    await first.stop();
    expect(await first.metric("vigil_writer_events_written_total")).toBe(0);

    const second = await launch();
    await waitUntilConsumed("the redelivered events to be acknowledged");
    expect(await second.metric("vigil_writer_events_redelivered_total")).toBe(200);
    expect(await second.metric("vigil_writer_events_written_total")).toBe(200);
    expect(await storedCount()).toBe(200);
    expect(new Set(await storedIds())).toEqual(new Set(published.map((e) => e.id)));
  });

  it("loses and duplicates nothing when a writer is stopped and another started mid-stream", async () => {
    const published = Array.from({ length: 3_000 }, (_, i) => event(i));
    const payloads = published.map(encodeEvent);
    // One small write at a time, so that the first writer is stopped with batches in hand.
    const slow = { batchSize: 50, maxConcurrentWrites: 1 };
    await publish(payloads.slice(0, 1_500));
    const first = await launch(slow);
    await waitFor("the first writer to store some events", async () => {
      return (await first.metric("vigil_writer_events_written_total")) >= 500;
    });
    await first.stop();
    const writtenByFirst = await first.metric("vigil_writer_events_written_total");
    await publish(payloads.slice(1_500));
    const second = await launch(slow);

    await waitUntilConsumed("every event to be acknowledged");
    expect(writtenByFirst).toBeLessThan(1_500);
    expect(writtenByFirst + (await second.metric("vigil_writer_events_written_total"))).toBe(3_000);
    expect(await storedCount()).toBe(3_000);
    const ids = await storedIds();
    expect(ids).toHaveLength(3_000);
    expect(new Set(ids)).toEqual(new Set(published.map((e) => e.id)));
  });

  it("holds everything unacknowledged while InfluxDB is down, longer than the ack wait, then stores it exactly once", async () => {
    const writer = await launch();
    await influx.stop();
    let restarted = false;
    try {
      const published = Array.from({ length: 500 }, (_, i) => event(i));
      await publish(published.map(encodeEvent));
      const since = Date.now();
      await waitFor(
        "an outage longer than twice the ack wait",
        async () =>
          Date.now() - since > 2 * ACK_WAIT_MS &&
          (await writer.metric("vigil_writer_write_failures_total", { reason: "unavailable" })) >= 3,
        30_000,
        100,
      );
      expect(writer.writer.influxReachable()).toBe(false);
      // Nothing acknowledged early: on a work queue an acknowledged event leaves the stream.
      expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(500);
      const held = await consumerState();
      expect(held.ackPending + held.pending).toBe(500);
      // Kept alive with working(): not redelivered although held longer than the ack wait.
      expect(held.redelivered).toBe(0);
      expect(await writer.metric("vigil_writer_events_written_total")).toBe(0);

      await influx.start();
      restarted = true;
      await waitUntilConsumed("every event to be acknowledged once InfluxDB is back");
      expect(writer.writer.influxReachable()).toBe(true);
      expect(await storedCount()).toBe(500);
      expect(new Set(await storedIds())).toEqual(new Set(published.map((e) => e.id)));
      expect(await writer.metric("vigil_writer_events_redelivered_total")).toBe(0);
    } finally {
      if (!restarted) await influx.start();
    }
  });

  it("shares the durable consumer between two writers, storing everything exactly once", async () => {
    const published = Array.from({ length: 4_000 }, (_, i) => event(i));
    const settings = { batchSize: 100, pullBatch: 100 };
    const [one, two] = await Promise.all([launch(settings), launch(settings)]);
    await publish(published.map(encodeEvent));

    await waitUntilConsumed("every event to be acknowledged");
    const written =
      (await one.metric("vigil_writer_events_written_total")) + (await two.metric("vigil_writer_events_written_total"));
    expect(written).toBe(4_000);
    expect(await storedCount()).toBe(4_000);
    const ids = await storedIds();
    expect(ids).toHaveLength(4_000);
    expect(new Set(ids)).toEqual(new Set(published.map((e) => e.id)));
  });
});
