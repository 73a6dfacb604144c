import {
  answerBytesBound,
  type InfluxClient,
  InfluxRejectedError,
  InfluxResponseTooLargeError,
  InfluxUnavailableError,
  type QueryParam,
  type QuerySeries,
} from "@vigil/influx";
import { createCoalescer, createLogger } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { answerAggregates, answerQuery, type QueryDeps } from "./answer-query.js";
import { createByteBudget } from "./byte-budget.js";
import { createConcurrencyLimit } from "./concurrency-limit.js";
import { DEFAULT_QUERY_WINDOWS_MS } from "./query-windows.js";

const encode = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

interface Call {
  readonly statement: string;
  readonly params: Readonly<Record<string, QueryParam>> | undefined;
  readonly maxBytes: number | undefined;
}

/** An InfluxClient whose query answers with `answer`, recording what it was asked. */
const fakeInflux = (answer: (call: Call) => Promise<QuerySeries[]>) => {
  const calls: Call[] = [];
  const client: InfluxClient = {
    write: () => Promise.reject(new Error("the reader never writes")),
    ping: () => Promise.resolve("fake"),
    query: (statement, params, options) => {
      const call = { statement, params, maxBytes: options?.maxBytes };
      calls.push(call);
      return answer(call);
    },
  };
  return { client, calls };
};

const deps = (influx: InfluxClient, overrides: Partial<QueryDeps> = {}): QueryDeps => ({
  influx,
  limit: createConcurrencyLimit(4, 4),
  timeoutMs: 5_000,
  log: createLogger("test", "silent"),
  ...overrides,
});

const COLUMNS = ["time", "criticality", "eventMessage", "timestamp", "id", "source"];

describe("answerQuery", () => {
  it("returns the stored rows as events, in InfluxDB's order, with bound parameters", async () => {
    const { client, calls } = fakeInflux(async () => [
      {
        name: "security_events",
        columns: COLUMNS,
        values: [
          [2, "9", "newest", "2024-05-01T10:00:02+02:00", "0f8fad5b-d9cb-469f-a165-70867728950e", "sensor-1"],
          [1, "7", "older", "2024-05-01T08:00:01Z", null, null],
        ],
      },
    ]);
    const answer = await answerQuery(encode({ minCriticality: 6, limit: 2 }), deps(client));
    expect(answer).toEqual({
      ok: true,
      reply: {
        events: [
          {
            criticality: 9,
            eventMessage: "newest",
            timestamp: "2024-05-01T10:00:02+02:00",
            id: "0f8fad5b-d9cb-469f-a165-70867728950e",
            source: "sensor-1",
          },
          { criticality: 7, eventMessage: "older", timestamp: "2024-05-01T08:00:01Z" },
        ],
      },
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.params).toMatchObject({ limit: 2, c7: "7", c10: "10" });
    expect(calls[0]?.statement).not.toMatch(/\b6\b|\b7\b/);
  });

  it("uses the default limit of 10", async () => {
    const { client, calls } = fakeInflux(async () => []);
    await answerQuery(encode({ minCriticality: 0 }), deps(client));
    expect(calls[0]?.params?.limit).toBe(10);
  });

  it("answers a threshold no criticality can pass with no events, without asking InfluxDB", async () => {
    const { client, calls } = fakeInflux(() => Promise.reject(new Error("must not be called")));
    await expect(answerQuery(encode({ minCriticality: 10 }), deps(client))).resolves.toEqual({
      ok: true,
      reply: { events: [] },
    });
    expect(calls).toHaveLength(0);
  });

  it("skips a stored row that is not a valid event", async () => {
    const { client } = fakeInflux(async () => [
      { name: "security_events", columns: COLUMNS, values: [[1, "99", "bad", "not a time", null, null]] },
    ]);
    await expect(answerQuery(encode({ minCriticality: -1 }), deps(client))).resolves.toEqual({
      ok: true,
      reply: { events: [] },
    });
  });

  it.each([
    ["not JSON", "{oops", "BAD_REQUEST", /not JSON/],
    ["an empty payload", "", "BAD_REQUEST", /minCriticality/],
    ["limit 0", { minCriticality: 1, limit: 0 }, "BAD_REQUEST", /limit/],
    ["limit 1001", { minCriticality: 1, limit: 1001 }, "BAD_REQUEST", /limit/],
    ["an injected threshold", { minCriticality: "5 OR 1=1" }, "BAD_REQUEST", /minCriticality/],
    ["a fractional threshold", { minCriticality: 2.5 }, "BAD_REQUEST", /minCriticality/],
    ["a missing threshold", { limit: 5 }, "BAD_REQUEST", /minCriticality/],
    ["an oversized request", { minCriticality: 1, pad: "x".repeat(5_000) }, "PAYLOAD_TOO_LARGE", /bytes/],
  ])("answers %s with %s, without asking InfluxDB", async (_what, payload, code, message) => {
    const { client, calls } = fakeInflux(async () => []);
    const answer = await answerQuery(encode(payload), deps(client));
    expect(answer.ok).toBe(false);
    expect(answer.reply).toEqual({ error: { code, message: expect.stringMatching(message) } });
    expect(calls).toHaveLength(0);
  });

  it("maps an unreachable InfluxDB to STORAGE_UNAVAILABLE and reports storage as unreachable", async () => {
    const { client } = fakeInflux(() =>
      Promise.reject(new InfluxUnavailableError("query: InfluxDB at http://10.0.0.9:8086 is unreachable")),
    );
    const seen: boolean[] = [];
    const answer = await answerQuery(
      encode({ minCriticality: 1 }),
      deps(client, { onStorage: (reachable) => seen.push(reachable) }),
    );
    expect(answer).toEqual({
      ok: false,
      reply: { error: { code: "STORAGE_UNAVAILABLE", message: "InfluxDB is unavailable; retry later" } },
    });
    expect(seen).toEqual([false]);
  });

  it("reports storage as reachable after a query InfluxDB answered", async () => {
    const { client } = fakeInflux(async () => []);
    const seen: boolean[] = [];
    await answerQuery(encode({ minCriticality: 1 }), deps(client, { onStorage: (reachable) => seen.push(reachable) }));
    expect(seen).toEqual([true]);
  });

  it("maps a refused statement, or any other failure, to INTERNAL without leaking the detail", async () => {
    for (const failure of [new InfluxRejectedError("query: error parsing query", 400), new TypeError("bug")]) {
      const { client } = fakeInflux(() => Promise.reject(failure));
      const answer = await answerQuery(encode({ minCriticality: 1 }), deps(client));
      expect(answer).toEqual({
        ok: false,
        reply: { error: { code: "INTERNAL", message: "the reader failed to answer; see its log" } },
      });
    }
  });

  it("answers STORAGE_UNAVAILABLE when InfluxDB does not answer within the timeout", async () => {
    const { client } = fakeInflux(() => new Promise<QuerySeries[]>(() => {}));
    const answer = await answerQuery(encode({ minCriticality: 1 }), deps(client, { timeoutMs: 20 }));
    expect(answer).toEqual({
      ok: false,
      reply: { error: { code: "STORAGE_UNAVAILABLE", message: expect.stringMatching(/within 20ms/) } },
    });
  });

  it("answers STORAGE_UNAVAILABLE 'reader overloaded' when every slot and queue place is taken", async () => {
    let finish: () => void = () => {};
    const { client } = fakeInflux(() => new Promise<QuerySeries[]>((resolve) => (finish = () => resolve([]))));
    const limit = createConcurrencyLimit(1, 0);
    const hung = answerQuery(encode({ minCriticality: 1 }), deps(client, { limit, timeoutMs: 60_000 }));
    const answer = await answerQuery(encode({ minCriticality: 1 }), deps(client, { limit }));
    expect(answer).toEqual({
      ok: false,
      reply: { error: { code: "STORAGE_UNAVAILABLE", message: expect.stringMatching(/^reader overloaded/) } },
    });
    finish();
    await expect(hung).resolves.toEqual({ ok: true, reply: { events: [] } });
  });

  it("sends InfluxDB one query for identical requests in flight together, and separate ones for different requests", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { client, calls } = fakeInflux(async () => {
      await gate;
      return [
        { name: "security_events", columns: COLUMNS, values: [[1, "9", "m", "2024-05-01T08:00:01Z", null, null]] },
      ];
    });
    const shared = deps(client, { coalescer: createCoalescer() });
    const answers = Promise.all([
      answerQuery(encode({ minCriticality: 5 }), shared),
      answerQuery(encode({ minCriticality: 5 }), shared),
      answerQuery(encode({ minCriticality: 5, limit: 10 }), shared),
      answerQuery(encode({ minCriticality: 6 }), shared),
    ]);
    release();
    const replies = await answers;
    expect(calls).toHaveLength(2);
    for (const answer of replies)
      expect(answer).toMatchObject({ ok: true, reply: { events: [{ eventMessage: "m" }] } });
  });
});

describe("answerQuery, bounding the bytes of InfluxDB's answers", () => {
  it("caps InfluxDB's answer at what the limit asked for can take, and at maxAnswerBytes", async () => {
    const { client, calls } = fakeInflux(async () => []);
    await answerQuery(encode({ minCriticality: 6, limit: 3 }), deps(client));
    await answerQuery(encode({ minCriticality: 6, limit: 1000 }), deps(client, { maxAnswerBytes: 1_000_000 }));
    expect(calls.map((call) => call.maxBytes)).toEqual([answerBytesBound(3), 1_000_000]);
  });

  it("reserves those bytes of the budget first, and caps the answer at what was granted", async () => {
    const { client, calls } = fakeInflux(async () => []);
    const budget = createByteBudget(50_000, 10);
    const reservation = budget.reserve();
    await answerQuery(encode({ minCriticality: 6, limit: 1000 }), deps(client, { reserve: reservation.acquire }));
    // More than the whole budget was wanted: the request got all of it, and no more.
    expect([budget.held, calls[0]?.maxBytes]).toEqual([50_000, 50_000]);
    reservation.release();
  });

  it("answers PAYLOAD_TOO_LARGE when InfluxDB's answer passes the cap", async () => {
    const { client } = fakeInflux(() => Promise.reject(new InfluxResponseTooLargeError("too large", 4096)));
    const answer = await answerQuery(encode({ minCriticality: 6, limit: 1000 }), deps(client));
    expect(answer).toMatchObject({ ok: false, reply: { error: { code: "PAYLOAD_TOO_LARGE" } } });
    expect(JSON.stringify(answer)).toMatch(/4096 bytes; ask for fewer events/);
  });

  it("answers STORAGE_UNAVAILABLE when the budget is spent and its queue full, or the wait outlasts the timeout", async () => {
    const { client, calls } = fakeInflux(async () => []);
    const budget = createByteBudget(100_000, 0);
    const holder = budget.reserve();
    await holder.acquire(100_000);
    const overloaded = await answerQuery(
      encode({ minCriticality: 0, limit: 10 }),
      deps(client, { reserve: budget.reserve().acquire }),
    );
    expect(overloaded).toMatchObject({ ok: false, reply: { error: { code: "STORAGE_UNAVAILABLE" } } });
    expect(JSON.stringify(overloaded)).toMatch(/reader overloaded/);

    const patient = createByteBudget(100_000, 10);
    await patient.reserve().acquire(100_000);
    const late = await answerQuery(
      encode({ minCriticality: 0, limit: 10 }),
      deps(client, { reserve: patient.reserve().acquire, timeoutMs: 100 }),
    );
    expect(late).toMatchObject({ ok: false, reply: { error: { code: "STORAGE_UNAVAILABLE" } } });
    expect([calls.length, patient.waiting]).toEqual([0, 0]);
    holder.release();
  });
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-12-02T12:00:00.000Z");

/** Stored rows at these instants (ms), newest first, criticality 9, answered as InfluxDB would. */
const storedAt = (instants: readonly number[]) => {
  const rows = instants.map((ms, i) => [ms, "9", `event ${i}`, new Date(ms).toISOString(), null, null]);
  return fakeInflux(async ({ params }) => {
    const since = typeof params?.since === "string" ? Date.parse(params.since) : Number.NEGATIVE_INFINITY;
    const values = rows.filter(([ms]) => (ms as number) > since).slice(0, Number(params?.limit));
    return values.length === 0 ? [] : [{ name: "security_events", columns: COLUMNS, values }];
  });
};

describe("answerQuery, newest window first", () => {
  const windowed = (influx: InfluxClient, overrides: Partial<QueryDeps> = {}) =>
    deps(influx, { windowsMs: DEFAULT_QUERY_WINDOWS_MS, now: () => NOW, ...overrides });

  it("asks the newest hour first, with since as a bound parameter, and stops there when it holds the limit", async () => {
    const { client, calls } = storedAt([NOW - 1_000, NOW - 2_000, NOW - 3 * DAY]);
    const steps: number[] = [];
    const answer = await answerQuery(
      encode({ minCriticality: 8, limit: 2 }),
      windowed(client, { onSteps: (n) => steps.push(n) }),
    );
    expect(answer).toMatchObject({
      ok: true,
      reply: { events: [{ eventMessage: "event 0" }, { eventMessage: "event 1" }] },
    });
    expect(calls.map((call) => call.params?.since)).toEqual([new Date(NOW - HOUR).toISOString()]);
    expect(calls[0]?.statement).toMatch(/AND time > \$since ORDER BY time DESC LIMIT \$limit$/);
    expect(calls[0]?.statement).not.toContain("2026");
    expect(steps).toEqual([1]);
  });

  it("widens hour, day, week, then unbounded, and answers what the unbounded query answers", async () => {
    const { client, calls } = storedAt([NOW - 1_000, NOW - 3 * DAY, NOW - 30 * DAY]);
    const steps: number[] = [];
    const answer = await answerQuery(
      encode({ minCriticality: 8, limit: 10 }),
      windowed(client, { onSteps: (n) => steps.push(n) }),
    );
    const unbounded = await answerQuery(
      encode({ minCriticality: 8, limit: 10 }),
      deps(storedAt([NOW - 1_000, NOW - 3 * DAY, NOW - 30 * DAY]).client),
    );
    expect(answer).toEqual(unbounded);
    expect(answer.ok && answer.reply.events.map((event) => event.eventMessage)).toEqual([
      "event 0",
      "event 1",
      "event 2",
    ]);
    expect(calls.map((call) => call.params?.since)).toEqual([
      new Date(NOW - HOUR).toISOString(),
      new Date(NOW - DAY).toISOString(),
      new Date(NOW - 7 * DAY).toISOString(),
      undefined,
    ]);
    expect(calls.at(-1)?.statement).not.toContain("$since");
    expect(steps).toEqual([4]);
  });

  it("counts rows that are not valid events towards the limit, as the unbounded query's LIMIT does", async () => {
    const { client, calls } = fakeInflux(async () => [
      {
        name: "security_events",
        columns: COLUMNS,
        values: [
          [2, "99", "not an event", "2026-12-02T11:59:59Z", null, null],
          [1, "9", "valid", "2026-12-02T11:59:58Z", null, null],
        ],
      },
    ]);
    const answer = await answerQuery(encode({ minCriticality: 8, limit: 2 }), windowed(client));
    expect(answer).toMatchObject({ ok: true, reply: { events: [{ eventMessage: "valid" }] } });
    expect(calls).toHaveLength(1);
  });

  it("shares the whole ladder among identical requests in flight, counting its steps once", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { client, calls } = storedAt([NOW - 3 * DAY]);
    const gated: InfluxClient = {
      ...client,
      query: async (...args) => {
        await gate;
        return client.query(...args);
      },
    };
    const steps: number[] = [];
    const shared = windowed(gated, { coalescer: createCoalescer(), onSteps: (n) => steps.push(n) });
    const answers = Promise.all([1, 2, 3].map(() => answerQuery(encode({ minCriticality: 5, limit: 1 }), shared)));
    release();
    for (const answer of await answers)
      expect(answer).toMatchObject({ ok: true, reply: { events: [{ eventMessage: "event 0" }] } });
    expect([calls.length, steps]).toEqual([3, [3]]);
  });

  it("holds one byte reservation for all its steps, and caps each step's answer with it", async () => {
    const { client, calls } = storedAt([NOW - 30 * DAY]);
    const budget = createByteBudget(10_000_000, 10);
    const reservation = budget.reserve();
    await answerQuery(encode({ minCriticality: 5, limit: 3 }), windowed(client, { reserve: reservation.acquire }));
    expect(calls.map((call) => call.maxBytes)).toEqual(Array(4).fill(answerBytesBound(3)));
    expect(budget.held).toBe(answerBytesBound(3));
    reservation.release();
  });

  it("runs its widening steps within the request's deadline, and sends none after it", async () => {
    let firstStepAnswers: () => void = () => {};
    const firstStep = new Promise<void>((resolve) => {
      firstStepAnswers = resolve;
    });
    const { client, calls } = storedAt([]);
    const slow: InfluxClient = {
      ...client,
      query: async (...args) => {
        if (calls.length === 0) await firstStep;
        return client.query(...args);
      },
    };
    const ladders: Promise<unknown>[] = [];
    // Records the shared ladder so that the test can wait for it to end after the answer was sent.
    const coalescer = {
      run: <T>(key: string, work: () => Promise<T>) => {
        const ladder = createCoalescer().run(key, work);
        ladders.push(ladder.catch(() => undefined));
        return ladder;
      },
    };
    const answer = await answerQuery(encode({ minCriticality: 5 }), windowed(slow, { timeoutMs: 30, coalescer }));
    expect(answer).toEqual({
      ok: false,
      reply: { error: { code: "STORAGE_UNAVAILABLE", message: expect.stringMatching(/within 30ms/) } },
    });
    firstStepAnswers();
    await Promise.all(ladders);
    // The first window came back empty after the deadline: no wider window was asked for.
    expect(calls).toHaveLength(1);
  });

  it("maps a failure of a widening step like any other, without asking further", async () => {
    let asked = 0;
    const { client } = fakeInflux(async () => {
      asked++;
      if (asked === 2) throw new InfluxUnavailableError("query: InfluxDB at http://10.0.0.9:8086 is unreachable");
      return [];
    });
    const answer = await answerQuery(encode({ minCriticality: 5 }), windowed(client));
    expect(answer).toEqual({
      ok: false,
      reply: { error: { code: "STORAGE_UNAVAILABLE", message: "InfluxDB is unavailable; retry later" } },
    });
    expect(asked).toBe(2);
  });
});

describe("answerAggregates, counting its window in parts at once", () => {
  // 10:00:00.700: the window ends at the whole second before it.
  const NOW = Date.parse("2026-12-02T10:00:00.700Z");
  const TO = "2026-12-02T10:00:00.000Z";
  const FROM = "2026-12-02T09:00:00.000Z";
  /** One count series per level, as InfluxDB answers a part: `count` events of each level given. */
  const counted = (levels: Record<string, number>): QuerySeries[] =>
    Object.entries(levels).map(([criticality, count]) => ({
      name: "security_events",
      tags: { criticality },
      columns: ["time", "count"],
      values: [[0, count]],
    }));

  it("sends one count per part, consecutive from the window's start to its end, all at once", async () => {
    let answered: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const { client, calls } = fakeInflux(async () => {
      await held;
      return [];
    });
    const answer = answerAggregates(encode({ minutes: 60 }), deps(client, { aggregateSlices: 3 }), () => NOW);
    // Every part is asked before any has answered.
    await expect.poll(() => calls.length).toBe(3);
    answered();
    expect(await answer).toMatchObject({ ok: true, reply: { from: FROM, to: TO, total: 0 } });
    expect(calls.map((call) => [call.params?.from, call.params?.to])).toEqual([
      [FROM, "2026-12-02T09:20:00.000Z"],
      ["2026-12-02T09:20:00.000Z", "2026-12-02T09:40:00.000Z"],
      ["2026-12-02T09:40:00.000Z", TO],
    ]);
    for (const call of calls) expect(call.statement).toMatch(/time >= \$from AND time < \$to/);
  });

  it("adds up the parts' counts per level, and answers what one query over the window would", async () => {
    const parts = [counted({ "3": 2, "7": 1 }), counted({ "3": 5 }), counted({ "10": 4, "0": 1 })];
    let part = 0;
    const { client } = fakeInflux(async () => parts[part++] ?? []);
    const answer = await answerAggregates(encode({ minutes: 60 }), deps(client, { aggregateSlices: 3 }), () => NOW);
    expect(answer).toMatchObject({
      ok: true,
      reply: { total: 13, perSecond: 13 / 3_600, byCriticality: { "0": 1, "3": 7, "7": 1, "10": 4, "5": 0 } },
    });
    const whole = fakeInflux(async () => counted({ "0": 1, "3": 7, "7": 1, "10": 4 }));
    expect(await answerAggregates(encode({ minutes: 60 }), deps(whole.client), () => NOW)).toEqual(answer);
    expect(whole.calls).toHaveLength(1);
  });

  it("answers the error of a part that fails, not a partial count", async () => {
    let part = 0;
    const { client } = fakeInflux(async () => {
      part++;
      if (part === 2) throw new InfluxUnavailableError("connection refused");
      return counted({ "3": 1 });
    });
    const answer = await answerAggregates(encode({ minutes: 60 }), deps(client, { aggregateSlices: 3 }), () => NOW);
    expect(answer).toMatchObject({ ok: false, reply: { error: { code: "STORAGE_UNAVAILABLE" } } });
  });

  it("reserves the bytes of every part's answer, and caps each part at its share", async () => {
    const { client, calls } = fakeInflux(async () => []);
    const budget = createByteBudget(10_000_000, 10);
    const reservation = budget.reserve();
    await answerAggregates(
      encode({ minutes: 60 }),
      deps(client, { aggregateSlices: 4, reserve: reservation.acquire }),
      () => NOW,
    );
    expect(budget.held).toBe(4 * answerBytesBound(11));
    expect(calls.map((call) => call.maxBytes)).toEqual(Array(4).fill(answerBytesBound(11)));
    reservation.release();
  });

  it("shares every part among identical requests in the same second", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { client, calls } = fakeInflux(async () => {
      await gate;
      return counted({ "4": 1 });
    });
    const shared = deps(client, { aggregateSlices: 2, coalescer: createCoalescer() });
    const answers = Promise.all(
      [0, 100, 200].map((later) => answerAggregates(encode({ minutes: 5 }), shared, () => NOW + later)),
    );
    release();
    for (const answer of await answers) expect(answer).toMatchObject({ ok: true, reply: { total: 2 } });
    expect(calls).toHaveLength(2);
  });
});
