import {
  answerBytesBound,
  type InfluxClient,
  InfluxRejectedError,
  InfluxResponseTooLargeError,
  InfluxUnavailableError,
  type QueryParam,
  type QuerySeries,
} from "@vigil/influx";
import { createLogger } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { answerQuery, type QueryDeps } from "./answer-query.js";
import { createByteBudget } from "./byte-budget.js";
import { createCoalescer } from "./coalesce.js";
import { createConcurrencyLimit } from "./concurrency-limit.js";

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
