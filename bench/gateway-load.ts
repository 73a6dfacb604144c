/**
 * The gateway benchmark's load generator: a child process of `bench/gateway.ts` (forked, jobs and
 * results over the IPC channel), so that making requests and reading answers costs CPU in a
 * process of its own, not in the gateway's nor in the process that starts the servers. Every job
 * prepares its payloads before the clock starts.
 */
import { Agent, request } from "node:http";
import { setTimeout as wait } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { countByCriticalityStatement, createInfluxClient, decodeCountRows, type InfluxConfig } from "@vigil/influx";
import { createConfirmedPublish, queryAggregates } from "@vigil/runtime";
import { EVENTS_SUBJECT, encodeEvent } from "@vigil/shared";
import { serveJobs } from "./child-jobs.js";
import { syntheticEvent } from "./fixtures.js";
import { arrivalSchedule, type LatencyFigures, latencyFigures } from "./open-loop.js";

/** Where the gateway listens and the API keys the job uses, request `i` the `i % length`th. */
interface GatewayTarget {
  readonly url: string;
  readonly apiKeys: readonly string[];
}

/** One measurement the generator is asked for. */
export type LoadJob =
  | {
      /** Confirmed JetStream publishes straight to `events`, `inFlight` awaiting confirmation at once. */
      readonly kind: "direct";
      readonly natsUrl: string;
      readonly events: number;
      readonly warmupEvents: number;
      readonly inFlight: number;
    }
  | {
      /** `POST /v1/events/batch` of `batchSize` events, `concurrency` requests in flight (closed loop). */
      readonly kind: "batch";
      readonly gateway: GatewayTarget;
      readonly events: number;
      readonly warmupEvents: number;
      readonly batchSize: number;
      readonly concurrency: number;
    }
  | {
      /**
       * `POST /v1/events` of one event at `rate` requests a second on a fixed schedule (open loop),
       * the requests spread over the API keys in turn, as if from that many producers.
       */
      readonly kind: "single";
      readonly gateway: GatewayTarget;
      readonly rate: number;
      readonly seconds: number;
      readonly warmupSeconds: number;
    }
  | {
      /**
       * `GET /v1/aggregates?minutes=` one request at a time, and the same question one layer down
       * each time (the reader over NATS, then InfluxDB alone), so the three see the same moments.
       */
      readonly kind: "aggregates";
      readonly gateway: GatewayTarget;
      readonly natsUrl: string;
      readonly influx: InfluxConfig;
      readonly minutes: number;
      readonly requests: number;
      readonly warmupRequests: number;
      /** Events the window must count: an answer with another total is counted as wrong. */
      readonly expectedTotal: number;
    };

/** What a rate job measured. */
export interface RateResult {
  readonly eventsPerSecond: number;
  readonly events: number;
  /** Events refused or unconfirmed (should be 0). */
  readonly failed: number;
}

/** What the open-loop job measured. */
export interface OpenLoopResult {
  readonly offeredPerSecond: number;
  /** Requests answered per second over the run (answers of the measured requests only). */
  readonly answeredPerSecond: number;
  /** From when each request was due to its answer, in milliseconds. */
  readonly latency: LatencyFigures;
  /** How late the generator sent requests after they were due: its own share of the latency. */
  readonly sendLag: LatencyFigures;
  /** Answers other than 202, and requests that failed. */
  readonly failed: number;
}

/** What the aggregates job measured, per layer. */
export interface AggregatesResult {
  readonly gateway: LatencyFigures;
  readonly reader: LatencyFigures;
  readonly influx: LatencyFigures;
  /** Answers whose total was not the events loaded, or that were errors (should be 0). */
  readonly wrongAnswers: number;
  /** The totals seen, when some were wrong, to say why. */
  readonly totalsSeen: readonly number[];
}

export type LoadResult = RateResult | OpenLoopResult | AggregatesResult;

interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** A keep-alive HTTP client for one gateway: node:http, the lightest client Node has. */
const httpClient = (target: GatewayTarget, maxSockets: number) => {
  const url = new URL(target.url);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send = (method: "GET" | "POST", path: string, index: number, body?: string): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const apiKey = target.apiKeys[index % target.apiKeys.length] as string;
      const headers: Record<string, string | number> = { "x-api-key": apiKey };
      if (body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(body);
      }
      const req = request({ agent, host: url.hostname, port: url.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  return { send, close: () => agent.destroy() };
};

/** Runs `lanes` loops at once, each taking the next item until none is left. */
const inLanes = async (items: number, lanes: number, work: (item: number) => Promise<void>) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, items) }, async () => {
      while (next < items) await work(next++);
    }),
  );
};

const directPublish = async (job: Extract<LoadJob, { kind: "direct" }>): Promise<RateResult> => {
  const nc = await connect({ servers: job.natsUrl });
  const publisher = createConfirmedPublish(nc);
  try {
    const total = job.warmupEvents + job.events;
    const messages = Array.from({ length: total }, (_, i) => {
      const event = syntheticEvent(i);
      return { id: event.id as string, payload: encodeEvent(event) };
    });
    let failed = 0;
    const publish = async (i: number) => {
      const { id, payload } = messages[i] as { id: string; payload: Uint8Array };
      await publisher.publish(EVENTS_SUBJECT, payload, { msgID: id, timeout: 10_000 }).catch(() => failed++);
    };
    await inLanes(job.warmupEvents, job.inFlight, publish);
    failed = 0;
    const t0 = performance.now();
    await inLanes(job.events, job.inFlight, (i) => publish(job.warmupEvents + i));
    const t1 = performance.now();
    return {
      eventsPerSecond: job.events / ((t1 - t0) / 1_000),
      events: job.events,
      failed,
    };
  } finally {
    publisher.close();
    await nc.close();
  }
};

const batchIngest = async (job: Extract<LoadJob, { kind: "batch" }>): Promise<RateResult> => {
  const client = httpClient(job.gateway, job.concurrency);
  try {
    const bodyOf = (first: number) =>
      JSON.stringify({ events: Array.from({ length: job.batchSize }, (_, k) => syntheticEvent(first + k)) });
    const warmup = Array.from({ length: Math.ceil(job.warmupEvents / job.batchSize) }, (_, b) =>
      bodyOf(b * job.batchSize),
    );
    const bodies = Array.from({ length: Math.ceil(job.events / job.batchSize) }, (_, b) => bodyOf(b * job.batchSize));
    let failed = 0;
    const post = async (body: string) => {
      const answer = await client.send("POST", "/v1/events/batch", 0, body);
      const accepted = answer.status === 200 ? (JSON.parse(answer.body) as { accepted: number }).accepted : 0;
      failed += job.batchSize - accepted;
    };
    await inLanes(warmup.length, job.concurrency, (b) => post(warmup[b] as string));
    failed = 0;
    const t0 = performance.now();
    await inLanes(bodies.length, job.concurrency, (b) => post(bodies[b] as string));
    const t1 = performance.now();
    const events = bodies.length * job.batchSize;
    return {
      eventsPerSecond: events / ((t1 - t0) / 1_000),
      events,
      failed,
    };
  } finally {
    client.close();
  }
};

/**
 * Sends `bodies` on the arrival schedule of `rate`/s; returns each request's latency from when it
 * was due, how late each went out, and how many failed.
 */
const openLoop = async (client: ReturnType<typeof httpClient>, bodies: readonly string[], rate: number) => {
  const schedule = arrivalSchedule(rate, bodies.length / rate);
  const latencies = new Float64Array(schedule.total);
  const lags = new Float64Array(schedule.total);
  let failed = 0;
  const answers: Promise<void>[] = [];
  const start = performance.now();
  let next = 0;
  while (next < schedule.total) {
    const due = schedule.dueBy(performance.now() - start);
    for (; next < due; next++) {
      const index = next;
      const dueAt = start + schedule.dueAt(index);
      lags[index] = performance.now() - dueAt;
      answers.push(
        client.send("POST", "/v1/events", index, bodies[index] as string).then(
          (answer) => {
            latencies[index] = performance.now() - dueAt;
            if (answer.status !== 202) failed++;
          },
          () => {
            latencies[index] = performance.now() - dueAt;
            failed++;
          },
        ),
      );
    }
    if (next < schedule.total) await wait(Math.max(0, start + schedule.dueAt(next) - performance.now()));
  }
  await Promise.all(answers);
  return { latencies: Array.from(latencies), lags: Array.from(lags), failed, elapsedMs: performance.now() - start };
};

const singleIngest = async (job: Extract<LoadJob, { kind: "single" }>): Promise<OpenLoopResult> => {
  // Room for every request a stalled gateway might hold, so the pool never delays a due request.
  const client = httpClient(job.gateway, 1_024);
  try {
    const bodiesFor = (count: number) => Array.from({ length: count }, (_, i) => JSON.stringify(syntheticEvent(i)));
    const warmup = bodiesFor(Math.max(1, Math.round(job.rate * job.warmupSeconds)));
    const bodies = bodiesFor(Math.round(job.rate * job.seconds));
    await openLoop(client, warmup, job.rate);
    const run = await openLoop(client, bodies, job.rate);
    return {
      offeredPerSecond: job.rate,
      answeredPerSecond: bodies.length / (run.elapsedMs / 1_000),
      latency: latencyFigures(run.latencies),
      sendLag: latencyFigures(run.lags),
      failed: run.failed,
    };
  } finally {
    client.close();
  }
};

const aggregatesLatency = async (job: Extract<LoadJob, { kind: "aggregates" }>): Promise<AggregatesResult> => {
  const client = httpClient(job.gateway, 1);
  const nc = await connect({ servers: job.natsUrl });
  const influx = createInfluxClient(job.influx);
  const samples = { gateway: [] as number[], reader: [] as number[], influx: [] as number[] };
  const totalsSeen = new Set<number>();
  let wrongAnswers = 0;
  const check = (total: number) => {
    if (total === job.expectedTotal) return;
    wrongAnswers++;
    totalsSeen.add(total);
  };
  const timed = async (layer: keyof typeof samples | undefined, ask: () => Promise<number>) => {
    const began = performance.now();
    const total = await ask().catch(() => -1);
    if (layer !== undefined) samples[layer].push(performance.now() - began);
    check(total);
  };
  const layers = {
    gateway: async () => {
      const answer = await client.send("GET", `/v1/aggregates?minutes=${job.minutes}`, 0);
      return answer.status === 200 ? (JSON.parse(answer.body) as { total: number }).total : -answer.status;
    },
    reader: async () => (await queryAggregates(nc, { minutes: job.minutes }, 30_000)).total,
    // The statement the reader runs, over the window it would choose (ending at the whole second).
    influx: async () => {
      const to = new Date(Math.floor(Date.now() / 1_000) * 1_000);
      const { statement, params } = countByCriticalityStatement(new Date(to.getTime() - job.minutes * 60_000), to);
      const counts = decodeCountRows(await influx.query(statement, params));
      return Object.values(counts).reduce((sum, count) => sum + count, 0);
    },
  };
  try {
    for (let i = 0; i < job.warmupRequests + job.requests; i++) {
      const measured = i >= job.warmupRequests;
      for (const layer of ["gateway", "reader", "influx"] as const)
        await timed(measured ? layer : undefined, layers[layer]);
    }
    return {
      gateway: latencyFigures(samples.gateway),
      reader: latencyFigures(samples.reader),
      influx: latencyFigures(samples.influx),
      wrongAnswers,
      totalsSeen: [...totalsSeen],
    };
  } finally {
    client.close();
    await nc.close();
  }
};

const run = (job: LoadJob): Promise<LoadResult> => {
  switch (job.kind) {
    case "direct":
      return directPublish(job);
    case "batch":
      return batchIngest(job);
    case "single":
      return singleIngest(job);
    case "aggregates":
      return aggregatesLatency(job);
  }
};

serveJobs(run);
