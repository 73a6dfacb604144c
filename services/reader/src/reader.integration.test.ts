import { type Msg, type NatsConnection, RequestError } from "@nats-io/nats-core";
import { type ServiceIdentity, type ServiceStats, Svcm } from "@nats-io/services";
import { connect } from "@nats-io/transport-node";
import { createInfluxClient, encodePoints, type InfluxClient, pointTime, type SequencedEvent } from "@vigil/influx";
import { createLogger, type Logger } from "@vigil/runtime";
import {
  decodeQueryReply,
  EVENTS_QUERY_SUBJECT,
  encodeJson,
  type QueryReply,
  READER_SERVICE,
  type SecurityEvent,
} from "@vigil/shared";
import {
  createLogSink,
  type Influxd,
  type NatsServer,
  reportedOpsPort,
  serviceEnv,
  spawnManaged,
  startInfluxd,
  startNatsServer,
  waitFor,
} from "@vigil/testing";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ReaderSettings } from "./config.js";
import { type Reader, startReader } from "./reader.js";

const SETTINGS: ReaderSettings = {
  ...loadConfig({}).settings,
  maxConcurrent: 8,
  maxQueued: 100,
  healthIntervalMs: 200,
};
const REQUEST_TIMEOUT_MS = 20_000;
const silent = createLogger("reader-test", "silent");
const textEncoder = new TextEncoder();

/** 33 events over criticalities 0..10: every other one with id and source, several time zones, one shared instant. */
const STORED: SequencedEvent[] = (() => {
  const base = Date.parse("2024-05-01T08:00:00Z");
  const events: SequencedEvent[] = [];
  for (let i = 0; i < 30; i++) {
    const instant = new Date(base + i * 1_000).toISOString();
    const timestamp = i % 3 === 0 ? instant.replace("Z", "+00:00") : instant;
    const event: SecurityEvent = {
      criticality: i % 11,
      timestamp,
      eventMessage: `event ${i}: failed login for "user${i}"\nfrom 198.51.100.${i}`,
      ...(i % 2 === 0
        ? { id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, source: `sensor-${i % 4}` }
        : {}),
    };
    events.push({ event, sequence: i + 1 });
  }
  // Two distinct events at the very same instant as the newest one: both must come back.
  const newest = events[29]?.event.timestamp as string;
  events.push({ event: { criticality: 9, timestamp: newest, eventMessage: "twin a" }, sequence: 31 });
  events.push({ event: { criticality: 9, timestamp: newest, eventMessage: "twin b", source: "twins" }, sequence: 32 });
  events.push({
    event: { criticality: 10, timestamp: "2024-05-01T10:00:45+02:00", eventMessage: "zone" },
    sequence: 33,
  });
  return events;
})();

/** What the reader must answer, computed from the stored events independently of it. */
const expected = (minCriticality: number, limit = 10): SecurityEvent[] =>
  STORED.filter(({ event }) => event.criticality > minCriticality)
    .sort((a, b) => {
      const [x, y] = [
        BigInt(pointTime(a.event.timestamp, a.sequence)),
        BigInt(pointTime(b.event.timestamp, b.sequence)),
      ];
      return x > y ? -1 : x < y ? 1 : 0;
    })
    .slice(0, limit)
    .map(({ event }) => event);

const ask = (nc: NatsConnection, payload: unknown): Promise<Msg> =>
  nc.request(
    EVENTS_QUERY_SUBJECT,
    payload instanceof Uint8Array ? payload : textEncoder.encode(JSON.stringify(payload)),
    {
      timeout: REQUEST_TIMEOUT_MS,
    },
  );

const events = async (nc: NatsConnection, query: unknown): Promise<SecurityEvent[]> => {
  const reply = decodeQueryReply((await ask(nc, query)).data);
  if ("error" in reply) throw new Error(`reader answered ${reply.error.code}: ${reply.error.message}`);
  return reply.events;
};

const collect = async <T>(iterator: AsyncIterable<T>): Promise<T[]> => {
  const all: T[] = [];
  for await (const item of iterator) all.push(item);
  return all;
};

describe("reader against nats-server and influxd", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let readerInflux: InfluxClient;
  let client: NatsConnection;
  const connections: NatsConnection[] = [];
  const readers: Reader[] = [];

  const startOne = async (
    influxClient: InfluxClient = readerInflux,
    registry?: Registry,
    log: Logger = silent,
  ): Promise<Reader> => {
    const nc = await connect({ servers: nats.url });
    connections.push(nc);
    const reader = await startReader(
      { nc, influx: influxClient, log, ...(registry === undefined ? {} : { registry }) },
      SETTINGS,
    );
    readers.push(reader);
    return reader;
  };

  let first: Reader;
  const registry = new Registry();
  /** What the first reader logs: its storage health lines are a contract. */
  const firstLog = createLogSink();

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("reader_test")]);
    await influx.client("writer").write(encodePoints(STORED));
    readerInflux = createInfluxClient({ ...influx.config("reader"), timeoutMs: SETTINGS.queryTimeoutMs });
    client = await connect({ servers: nats.url });
    first = await startOne(readerInflux, registry, firstLog.log);
    await waitFor("the reader to see InfluxDB", () => first.storageReachable());
  });

  afterAll(async () => {
    await Promise.allSettled(readers.map((reader) => reader.stop()));
    await Promise.allSettled([client, ...connections].map((nc) => nc?.close()));
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  it("answers newest first, only criticality strictly above the threshold, honouring the limit", async () => {
    for (const [minCriticality, limit] of [
      [5, 10],
      [8, 3],
      [0, 25],
      [9, 1000],
    ] as const) {
      const answer = await events(client, { minCriticality, limit });
      expect(answer).toEqual(expected(minCriticality, limit));
      expect(answer.every((event) => event.criticality > minCriticality)).toBe(true);
    }
  });

  it("returns 10 events when no limit is given", async () => {
    const answer = await events(client, { minCriticality: 2 });
    expect(answer).toHaveLength(10);
    expect(answer).toEqual(expected(2));
  });

  it("keeps the original timestamp text, and id/source exactly when they were stored", async () => {
    const answer = await events(client, { minCriticality: -1, limit: 1000 });
    expect(answer).toHaveLength(STORED.length);
    expect(answer).toEqual(expected(-1, 1000));
    expect(answer.filter((event) => "id" in event)).toHaveLength(15);
    expect(answer.find((event) => event.eventMessage === "zone")?.timestamp).toBe("2024-05-01T10:00:45+02:00");
    expect(answer.filter((event) => event.eventMessage.startsWith("twin"))).toHaveLength(2);
  });

  it("answers no events for a threshold of 10 or more, and every event for one below 0", async () => {
    expect(await events(client, { minCriticality: 10 })).toEqual([]);
    expect(await events(client, { minCriticality: 1_000_000 })).toEqual([]);
    expect(await events(client, { minCriticality: -1_000_000, limit: 1000 })).toHaveLength(STORED.length);
  });

  it.each([
    { what: "not JSON", payload: textEncoder.encode("{nope"), code: "BAD_REQUEST", status: 400, message: /JSON/ },
    { what: "limit 0", payload: { minCriticality: 1, limit: 0 }, code: "BAD_REQUEST", status: 400, message: /limit/ },
    {
      what: "limit 1001",
      payload: { minCriticality: 1, limit: 1001 },
      code: "BAD_REQUEST",
      status: 400,
      message: /limit/,
    },
    {
      what: "an injected threshold",
      payload: { minCriticality: "5 OR 1=1" },
      code: "BAD_REQUEST",
      status: 400,
      message: /minCriticality/,
    },
    { what: "a missing threshold", payload: { limit: 3 }, code: "BAD_REQUEST", status: 400, message: /minCriticality/ },
    {
      what: "wrong types",
      payload: { minCriticality: true, limit: "ten" },
      code: "BAD_REQUEST",
      status: 400,
      message: /limit.*minCriticality|minCriticality.*limit/,
    },
    { what: "an array", payload: [1, 2], code: "BAD_REQUEST", status: 400, message: /expected object/ },
    { what: "an empty request", payload: new Uint8Array(), code: "BAD_REQUEST", status: 400, message: /empty/ },
    {
      what: "an oversized request",
      payload: { minCriticality: 1, padding: "x".repeat(10_000) },
      code: "PAYLOAD_TOO_LARGE",
      status: 413,
      message: /bytes/,
    },
  ])(
    "answers $what with $code and the service error headers, and keeps answering",
    async ({ payload, code, status, message }) => {
      const msg = await ask(client, payload);
      const reply: QueryReply = decodeQueryReply(msg.data);
      expect(reply).toEqual({ error: { code, message: expect.stringMatching(message) } });
      expect(msg.headers?.get("Nats-Service-Error-Code")).toBe(String(status));
      expect(msg.headers?.get("Nats-Service-Error")).toMatch(message);
      expect(await events(client, { minCriticality: 8, limit: 2 })).toEqual(expected(8, 2));
    },
  );

  it("counts answers and errors in its metrics", async () => {
    const errors = (await registry.getSingleMetric("vigil_reader_errors_total")?.get())?.values ?? [];
    const badRequests = errors.find((value) => value.labels.code === "BAD_REQUEST")?.value ?? 0;
    expect(badRequests).toBeGreaterThanOrEqual(8);
    const queries = (await registry.getSingleMetric("vigil_reader_queries_total")?.get())?.values ?? [];
    expect(queries.find((value) => value.labels.outcome === "ok")?.value ?? 0).toBeGreaterThan(0);
  });

  it("answers STORAGE_UNAVAILABLE while InfluxDB is down, and answers again once it is back", async () => {
    const logged = firstLog.lines.length;
    await influx.stop();
    try {
      const msg = await ask(client, { minCriticality: 5 });
      expect(decodeQueryReply(msg.data)).toEqual({
        error: { code: "STORAGE_UNAVAILABLE", message: expect.stringMatching(/InfluxDB is unavailable/) },
      });
      expect(msg.headers?.get("Nats-Service-Error-Code")).toBe("503");
      expect(first.storageReachable()).toBe(false);
    } finally {
      await influx.start();
    }
    await waitFor("the reader to answer again", async () => {
      const reply = decodeQueryReply((await ask(client, { minCriticality: 5 })).data);
      return "events" in reply && reply.events.length === 10;
    });
    expect(await events(client, { minCriticality: 5 })).toEqual(expected(5));
    await waitFor("readiness to follow", () => first.storageReachable());
    // One line when storage went away and one when it came back, however many pings and queries failed.
    const health = firstLog.lines
      .slice(logged)
      .filter((line) => line.msg?.startsWith("InfluxDB does not answer") || line.msg === "InfluxDB answers");
    expect(health.map((line) => [line.level, line.msg])).toEqual([
      ["warn", "InfluxDB does not answer; queries get STORAGE_UNAVAILABLE until it does"],
      ["info", "InfluxDB answers"],
    ]);
  });

  it("shares the queue group between readers, which $SRV.PING and $SRV.STATS report", async () => {
    const second = await startOne();
    const services = new Svcm(client).client();
    const pings = await collect<ServiceIdentity>(await services.ping(READER_SERVICE));
    expect(pings.map((ping) => ping.id).sort()).toEqual([first.id, second.id].sort());

    const requestsOf = async (): Promise<Map<string, number>> => {
      const stats = await collect<ServiceStats>(await services.stats(READER_SERVICE));
      return new Map(stats.map((one) => [one.id, one.endpoints?.[0]?.num_requests ?? 0]));
    };
    const before = await requestsOf();
    await Promise.all(Array.from({ length: 60 }, () => events(client, { minCriticality: 7, limit: 2 })));
    const after = await requestsOf();
    expect(after.get(first.id) ?? 0).toBeGreaterThan(before.get(first.id) ?? 0);
    expect(after.get(second.id) ?? 0).toBeGreaterThan(0);
    expect((after.get(first.id) ?? 0) - (before.get(first.id) ?? 0) + (after.get(second.id) ?? 0)).toBe(60);

    await second.stop();
    for (let i = 0; i < 10; i++) expect(await events(client, { minCriticality: 7, limit: 2 })).toEqual(expected(7, 2));
  });

  it("answers PAYLOAD_TOO_LARGE, not silence, when the reply would exceed the server's max_payload", async () => {
    const small = await startNatsServer({ config: "max_payload: 2048" });
    const nc = await connect({ servers: small.url });
    const reader = await startReader({ nc, influx: readerInflux, log: silent }, SETTINGS);
    try {
      const msg = await ask(nc, { minCriticality: -1, limit: 1000 });
      expect(decodeQueryReply(msg.data)).toEqual({
        error: { code: "PAYLOAD_TOO_LARGE", message: expect.stringMatching(/more than the NATS limit of 2048.*fewer/) },
      });
      expect(msg.headers?.get("Nats-Service-Error-Code")).toBe("413");
      expect(await events(nc, { minCriticality: 9, limit: 2 })).toEqual(expected(9, 2));
    } finally {
      await reader.stop();
      await nc.close();
      await small.dispose();
    }
  });

  it("on stop, takes no new requests but answers the one in flight", async () => {
    await first.stop();
    let entered = false;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gated: InfluxClient = {
      ...readerInflux,
      query: async (statement, params) => {
        entered = true;
        await held;
        return readerInflux.query(statement, params);
      },
    };
    const last = await startOne(gated);
    const inFlight = events(client, { minCriticality: 6, limit: 4 });
    await waitFor("the request to reach InfluxDB", () => entered);

    let stopped = false;
    const stopping = last.stop().then(() => {
      stopped = true;
    });
    await waitFor("the service to stop taking requests", async () => {
      try {
        await client.request(EVENTS_QUERY_SUBJECT, encodeJson({ minCriticality: 1 }), { timeout: 2_000 });
        return false;
      } catch (err) {
        return err instanceof RequestError && err.isNoResponders();
      }
    });
    expect(stopped).toBe(false);
    release();
    expect(await inFlight).toEqual(expected(6, 4));
    await stopping;
    expect(stopped).toBe(true);
    expect(await last.stopped).toBeNull();
    expect(last.answering()).toBe(false);
  });

  it("runs as a process: ready once NATS and InfluxDB answer, answers, exits 0 on SIGTERM", async () => {
    // serviceEnv passes the reader's credentials whichever InfluxDB runs: 1.x user or 2.x token.
    const proc = spawnManaged(
      process.execPath,
      ["--conditions=vigil-source", "--import", "tsx", new URL("./main.ts", import.meta.url).pathname],
      serviceEnv(nats.url, influx.config("reader"), { OPS_PORT: "0", LOG_LEVEL: "info" }),
    );
    try {
      const opsPort = await reportedOpsPort(proc, "the reader process");
      await waitFor("the reader process to be ready", async () => {
        if (proc.child.exitCode !== null) throw new Error(`reader exited: ${proc.output()}`);
        return (await fetch(`http://127.0.0.1:${opsPort}/readyz`)).ok;
      });
      expect(await events(client, { minCriticality: 4, limit: 5 })).toEqual(expected(4, 5));
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      expect(metrics).toMatch(/vigil_reader_queries_total\{outcome="ok"[^}]*\} [1-9]/);
      expect(metrics).toContain("vigil_reader_query_duration_seconds_bucket");
    } finally {
      expect(await proc.stop("SIGTERM")).toBe(0);
    }
    expect(proc.output()).toContain('"msg":"stopped"');
  });

  it("as a process, exits 1 with one line naming a bad variable", async () => {
    const proc = spawnManaged(
      process.execPath,
      ["--conditions=vigil-source", "--import", "tsx", new URL("./main.ts", import.meta.url).pathname],
      { PATH: process.env.PATH ?? "", READER_MAX_CONCURRENT: "none" },
    );
    expect(await proc.exited()).toBe(1);
    expect(proc.output().trim().split("\n")).toHaveLength(1);
    expect(proc.output()).toMatch(/READER_MAX_CONCURRENT/);
  });
});
