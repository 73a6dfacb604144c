import { connect } from "@nats-io/transport-node";
import {
  createInfluxClient,
  decodeEventRows,
  encodePoints,
  type InfluxClient,
  latestEventsStatement,
  pointTime,
  type QueryParam,
  type SequencedEvent,
} from "@vigil/influx";
import { createLogger } from "@vigil/runtime";
import { decodeQueryReply, EVENTS_QUERY_SUBJECT, encodeJson, type SecurityEvent } from "@vigil/shared";
import { type Influxd, type NatsServer, startInfluxd, startNatsServer } from "@vigil/testing";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answerQuery, type QueryDeps } from "./answer-query.js";
import { createConcurrencyLimit } from "./concurrency-limit.js";
import { loadConfig } from "./config.js";
import { DEFAULT_QUERY_WINDOWS_MS } from "./query-windows.js";
import { startReader } from "./reader.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The reader's clock in the tests that fix it: a whole second, so that `since` is exactly a stored instant. */
const NOW = Math.floor(Date.now() / 1_000) * 1_000;
const silent = createLogger("newest-window-test", "silent");

const at = (ms: number) => new Date(ms).toISOString();
const stored = (criticality: number, ms: number, eventMessage: string, sequence: number): SequencedEvent => ({
  event: { criticality, timestamp: at(ms), eventMessage },
  sequence,
});

/**
 * Events placed around the default windows (1 h, 1 d, 7 d) of a reader whose clock reads NOW. The
 * sequences pick the nanoseconds of each point (sequence mod 1e6), so some points sit exactly on a
 * window's bound and some share one point time across series (a tie InfluxDB breaks itself).
 */
const STORED: SequencedEvent[] = [
  // Common, recent: the last half hour, criticality 0..4.
  ...Array.from({ length: 30 }, (_, i) => stored(i % 5, NOW - (i + 1) * MINUTE, `recent ${i}`, i + 1)),
  // On the first window's bound: 1 ns after it, exactly on it, 1 ms before it.
  stored(6, NOW - HOUR, "bound + 1ns", 2_000_001),
  stored(6, NOW - HOUR, "bound", 2_000_000),
  stored(6, NOW - HOUR - 1, "bound - 1ms", 40),
  // Two of criticality 8 newer than the tie below.
  stored(8, NOW - 5 * HOUR, "five hours a", 70),
  stored(8, NOW - 5 * HOUR - 1, "five hours b", 71),
  // Four points at one and the same point time, in four series (criticality and sequence block).
  stored(8, NOW - 2 * DAY, "tie a", 500),
  stored(9, NOW - 2 * DAY, "tie b", 1_000_500),
  stored(8, NOW - 2 * DAY, "tie c", 3_000_500),
  stored(10, NOW - 2 * DAY, "tie d", 4_000_500),
  // Rare: criticality 10, days old and weeks old.
  ...Array.from({ length: 4 }, (_, i) => stored(10, NOW - 3 * DAY - i * MINUTE, `three days ${i}`, 50 + i)),
  ...Array.from({ length: 3 }, (_, i) => stored(10, NOW - 10 * DAY - i * MINUTE, `ten days ${i}`, 60 + i)),
  // Stamped in the future by producers whose clocks run ahead, and long ago.
  stored(3, NOW + DAY, "tomorrow", 80),
  stored(1, Date.parse("2200-01-01T00:00:00Z"), "far future", 81),
  stored(7, NOW - 29 * DAY, "a month ago", 91),
  stored(7, Date.parse("1960-01-01T00:00:00Z"), "before 1970", 90),
];

/** Newest first by point time, computed without InfluxDB; only for answers that hold no tie. */
const expected = (minCriticality: number, limit: number): SecurityEvent[] =>
  STORED.filter(({ event }) => event.criticality > minCriticality)
    .map((one) => ({ one, time: BigInt(pointTime(one.event.timestamp, one.sequence)) }))
    .sort((a, b) => (a.time > b.time ? -1 : a.time < b.time ? 1 : 0))
    .slice(0, limit)
    .map(({ one }) => one.event);

const messages = (events: readonly SecurityEvent[]) => events.map((event) => event.eventMessage);

describe("newest window first, against influxd", () => {
  let influx: Influxd;
  let readerInflux: InfluxClient;

  beforeAll(async () => {
    influx = await startInfluxd("newest_window_test");
    await influx.client("writer").write(encodePoints(STORED));
    readerInflux = createInfluxClient({ ...influx.config("reader"), timeoutMs: 20_000 });
  });

  afterAll(async () => {
    await influx?.dispose();
  });

  /** What the reader answered before windows: the one unbounded statement, straight from InfluxDB. */
  const unbounded = async (minCriticality: number, limit: number): Promise<SecurityEvent[]> => {
    const bound = latestEventsStatement(minCriticality, limit);
    if (bound === undefined) return [];
    return decodeEventRows(await readerInflux.query(bound.statement, bound.params));
  };

  /** Answers like the reader with its clock at `now`, recording the `since` of every query it sends. */
  const windowed = async (minCriticality: number, limit: number, now = NOW) => {
    const sinces: (QueryParam | undefined)[] = [];
    const steps: number[] = [];
    const recording: InfluxClient = {
      ...readerInflux,
      query: (statement, params, options) => {
        sinces.push(params?.since);
        return readerInflux.query(statement, params, options);
      },
    };
    const deps: QueryDeps = {
      influx: recording,
      limit: createConcurrencyLimit(4, 10),
      timeoutMs: 20_000,
      log: silent,
      windowsMs: DEFAULT_QUERY_WINDOWS_MS,
      now: () => now,
      onSteps: (n) => steps.push(n),
    };
    const answer = await answerQuery(encodeJson({ minCriticality, limit }), deps);
    if (!answer.ok) throw new Error(`answered ${answer.reply.error.code}: ${answer.reply.error.message}`);
    return { events: answer.reply.events, sinces, steps: steps[0] };
  };

  it("finds the newest events in the first window, future ones first, with one query", async () => {
    const answer = await windowed(-1, 10);
    expect(answer.sinces).toEqual([at(NOW - HOUR)]);
    expect(answer.steps).toBe(1);
    expect(messages(answer.events)).toEqual(["far future", "tomorrow", ...messages(expected(-1, 10)).slice(2)]);
    expect(answer.events).toEqual(expected(-1, 10));
    expect(answer.events).toEqual(await unbounded(-1, 10));
  });

  it("leaves a point exactly on the window's bound to the next window (time > since)", async () => {
    const one = await windowed(5, 1);
    expect([messages(one.events), one.steps]).toEqual([["bound + 1ns"], 1]);
    const two = await windowed(5, 2);
    expect([messages(two.events), two.steps]).toEqual([["bound + 1ns", "bound"], 2]);
    expect(two.sinces).toEqual([at(NOW - HOUR), at(NOW - DAY)]);
    const three = await windowed(5, 3);
    expect(messages(three.events)).toEqual(["bound + 1ns", "bound", "bound - 1ms"]);
    for (const limit of [1, 2, 3]) expect((await windowed(5, limit)).events).toEqual(await unbounded(5, limit));
  });

  it("widens for a rare threshold whose events are days old, and answers as the unbounded query", async () => {
    const answer = await windowed(9, 5);
    expect(answer.sinces).toEqual([at(NOW - HOUR), at(NOW - DAY), at(NOW - 7 * DAY)]);
    expect(answer.steps).toBe(3);
    expect(messages(answer.events)).toEqual(["tie d", "three days 0", "three days 1", "three days 2", "three days 3"]);
    expect(answer.events).toEqual(expected(9, 5));
    expect(answer.events).toEqual(await unbounded(9, 5));
  });

  it("returns every match, through the unbounded step, when fewer than the limit exist", async () => {
    const answer = await windowed(9, 1_000);
    expect(answer.sinces).toEqual([at(NOW - HOUR), at(NOW - DAY), at(NOW - 7 * DAY), undefined]);
    expect(answer.steps).toBe(4);
    expect(answer.events).toHaveLength(8);
    expect(answer.events).toEqual(expected(9, 1_000));
    expect(answer.events).toEqual(await unbounded(9, 1_000));
    const oldest = await windowed(6, 1_000);
    expect(messages(oldest.events).slice(-2)).toEqual(["a month ago", "before 1970"]);
  });

  it("orders points of one point time as the unbounded query does, where the limit cuts through them", async () => {
    for (const limit of [3, 4, 5, 6]) {
      const answer = await windowed(7, limit);
      expect(answer.steps).toBe(3);
      expect(answer.events).toEqual(await unbounded(7, limit));
    }
    const all = messages((await windowed(7, 6)).events);
    expect(all.slice(0, 2)).toEqual(["five hours a", "five hours b"]);
    expect(all.slice(2).sort()).toEqual(["tie a", "tie b", "tie c", "tie d"]);
  });

  it("answers exactly as the unbounded query at every threshold and limit, whatever the reader's clock", async () => {
    for (const skew of [0, -2 * HOUR, 2 * HOUR, -3 * DAY, 3 * DAY]) {
      for (let minCriticality = -1; minCriticality <= 10; minCriticality++) {
        for (const limit of [1, 2, 3, 5, 10, 25, 1_000]) {
          const answer = await windowed(minCriticality, limit, NOW + skew);
          expect(answer.events, `threshold ${minCriticality}, limit ${limit}, clock ${skew} ms off`).toEqual(
            await unbounded(minCriticality, limit),
          );
        }
      }
    }
  });

  describe("through NATS", () => {
    let nats: NatsServer;
    beforeAll(async () => {
      nats = await startNatsServer();
    });
    afterAll(async () => {
      await nats?.dispose();
    });

    it("answers over NATS as the unbounded query does, and counts each answer's steps in its metrics", async () => {
      const registry = new Registry();
      const nc = await connect({ servers: nats.url });
      const reader = await startReader(
        { nc, influx: readerInflux, log: silent, registry },
        {
          ...loadConfig({}).settings,
          queryTimeoutMs: 20_000,
          maxConcurrent: 4,
          maxQueued: 10,
          healthIntervalMs: 60_000,
        },
      );
      try {
        const ask = async (minCriticality: number, limit: number) => {
          const msg = await nc.request(EVENTS_QUERY_SUBJECT, encodeJson({ minCriticality, limit }), {
            timeout: 20_000,
          });
          const reply = decodeQueryReply(msg.data);
          if ("error" in reply) throw new Error(`reader answered ${reply.error.code}: ${reply.error.message}`);
          return reply.events;
        };
        // The reader's own clock: the newest events are minutes old, the rare ones days.
        expect(await ask(-1, 10)).toEqual(await unbounded(-1, 10));
        expect(await ask(9, 1_000)).toEqual(await unbounded(9, 1_000));
        const text = await registry.getSingleMetricAsString("vigil_reader_query_steps");
        const value = (series: string) =>
          Number(
            text
              .split("\n")
              .find((line) => line.startsWith(`${series} `))
              ?.split(" ")[1],
          );
        expect([value("vigil_reader_query_steps_count"), value("vigil_reader_query_steps_sum")]).toEqual([2, 5]);
        // Cumulative buckets: one answer took one step, the other four.
        expect(["1", "3", "4"].map((le) => value(`vigil_reader_query_steps_bucket{le="${le}"}`))).toEqual([1, 1, 2]);
      } finally {
        await reader.stop();
        await nc.close();
      }
    });
  });
});
