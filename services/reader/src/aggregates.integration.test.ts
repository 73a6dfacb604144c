import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { createInfluxClient, encodePoints, type SequencedEvent } from "@vigil/influx";
import { createLogger, queryAggregates, ReaderError } from "@vigil/runtime";
import { EVENTS_AGGREGATES_SUBJECT } from "@vigil/shared";
import { freePort, type Influxd, type NatsServer, startInfluxd, startNatsServer, waitFor } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ReaderSettings } from "./config.js";
import { type Reader, startReader } from "./reader.js";

const SETTINGS: ReaderSettings = { ...loadConfig({}).settings, maxConcurrent: 4, maxQueued: 10, healthIntervalMs: 200 };
const TIMEOUT_MS = 20_000;
const MINUTE = 60_000;

/** Events `ago` milliseconds before the test's start, `count` of each given criticality. */
const at = (ago: number, criticalities: readonly number[], now: number): Omit<SequencedEvent, "sequence">[] =>
  criticalities.map((criticality) => ({
    event: { criticality, timestamp: new Date(now - ago).toISOString(), eventMessage: `${ago}ms ago` },
  }));

describe("events.aggregates against nats-server and influxd", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let client: NatsConnection;
  const connections: NatsConnection[] = [];
  const readers: Reader[] = [];
  const now = Date.now();
  // Within 5 minutes: 2×3, 1×7, 1×10. Thirty minutes ago: 3×0. Two days ago: 4×5 (outside every window).
  const stored: SequencedEvent[] = [
    ...at(2 * MINUTE, [3, 3, 7, 10], now),
    ...at(30 * MINUTE, [0, 0, 0], now),
    ...at(2 * 24 * 60 * MINUTE, [5, 5, 5, 5], now),
  ].map((item, index) => ({ ...item, sequence: index + 1 }));

  const startOne = async (
    options: { influxUrl?: string; database?: string; aggregateSlices?: number } = {},
  ): Promise<Reader> => {
    const nc = await connect({ servers: nats.url });
    connections.push(nc);
    const config = {
      ...influx.config("reader", options.database),
      timeoutMs: 2_000,
      ...(options.influxUrl === undefined ? {} : { url: options.influxUrl }),
    };
    const reader = await startReader(
      { nc, influx: createInfluxClient(config), log: createLogger("aggregates-test", "silent") },
      { ...SETTINGS, aggregateSlices: options.aggregateSlices ?? SETTINGS.aggregateSlices },
    );
    readers.push(reader);
    return reader;
  };

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("aggregates_test")]);
    await influx.client("writer").write(encodePoints(stored));
    client = await connect({ servers: nats.url });
  });

  afterAll(async () => {
    await Promise.allSettled(readers.map((reader) => reader.stop()));
    await Promise.allSettled([client, ...connections].map((nc) => nc?.close()));
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  it("counts the events of the last N minutes per criticality, with every level present", async () => {
    const reader = await startOne();
    const zero = Object.fromEntries(Array.from({ length: 11 }, (_, level) => [String(level), 0]));
    const recent = await queryAggregates(client, { minutes: 10 }, TIMEOUT_MS);
    expect(recent.byCriticality).toEqual({ ...zero, "3": 2, "7": 1, "10": 1 });
    expect(recent.total).toBe(4);
    expect(recent.perSecond).toBeCloseTo(4 / 600, 10);
    expect(Date.parse(recent.to) - Date.parse(recent.from)).toBe(10 * MINUTE);
    const hour = await queryAggregates(client, { minutes: 60 }, TIMEOUT_MS);
    expect(hour.byCriticality).toEqual({ ...zero, "0": 3, "3": 2, "7": 1, "10": 1 });
    expect(hour.total).toBe(7);
    const day = await queryAggregates(client, { minutes: 1440 }, TIMEOUT_MS);
    expect(day.total).toBe(7);
    await reader.stop();
  });

  it("answers BAD_REQUEST, never silence, for a request off the contract", async () => {
    const reader = await startOne();
    for (const payload of [
      "",
      "{nope",
      '{"minutes":0}',
      '{"minutes":1441}',
      '{"minutes":"5m; DROP"}',
      '{"minutes":1.5}',
    ]) {
      const msg = await client.request(EVENTS_AGGREGATES_SUBJECT, new TextEncoder().encode(payload), {
        timeout: TIMEOUT_MS,
      });
      expect(msg.headers?.get("Nats-Service-Error-Code"), payload).toBe("400");
      expect(JSON.parse(new TextDecoder().decode(msg.data)).error.code, payload).toBe("BAD_REQUEST");
    }
    await reader.stop();
  });

  it("answers STORAGE_UNAVAILABLE when InfluxDB cannot be reached", async () => {
    const reader = await startOne({ influxUrl: `http://127.0.0.1:${await freePort()}` });
    await waitFor("the reader to find InfluxDB unreachable", () => !reader.storageReachable());
    const asking = queryAggregates(client, { minutes: 5 }, TIMEOUT_MS);
    await expect(asking).rejects.toBeInstanceOf(ReaderError);
    await expect(asking).rejects.toMatchObject({ code: "STORAGE_UNAVAILABLE" });
    await reader.stop();
  });

  it("counts the same in one query as in seven parts at once, with events on both sides of every part's edge", async () => {
    // One event every 50 ms over the 8½ minutes before the test began: every edge of a 10-minute
    // window cut in seven has events within 50 ms of it, and none leaves the window while asked.
    const database = "aggregates_parts";
    await influx.createDatabase(database);
    const dense = Array.from({ length: 10_200 }, (_, index) => ({
      event: {
        criticality: index % 11,
        timestamp: new Date(now - 1_000 - index * 50).toISOString(),
        eventMessage: "dense",
      },
      sequence: index + 1,
    }));
    await influx.client("writer", database).write(encodePoints(dense));
    const perLevel = Object.fromEntries(
      Array.from({ length: 11 }, (_, level) => [
        String(level),
        dense.filter((one) => one.event.criticality === level).length,
      ]),
    );
    for (const aggregateSlices of [1, 7]) {
      const reader = await startOne({ database, aggregateSlices });
      const answer = await queryAggregates(client, { minutes: 10 }, TIMEOUT_MS);
      expect(answer.total, `${aggregateSlices} part(s)`).toBe(dense.length);
      expect(answer.byCriticality, `${aggregateSlices} part(s)`).toEqual(perLevel);
      await reader.stop();
    }
  });
});
