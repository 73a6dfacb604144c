import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { encodePoints, type InfluxClient } from "@vigil/influx";
import { decodeQueryReply, EVENTS_QUERY_SUBJECT, encodeJson, type SecurityEvent } from "@vigil/shared";
import { type Influxd, serviceEnv, startNatsServer, startService } from "@vigil/testing";

import { busyShare, childPids, cpuMicros, machineTicks } from "./process-stats.js";
import { shippedServers } from "./servers.js";
import { percentile } from "./stats.js";

/** Share of stored events at each criticality 0..10 (skewed to low, as real alert streams are). */
const CRITICALITY_SHARE = [30, 20, 15, 10, 8, 6, 4, 3, 2, 1.5, 0.5];
const DAY_MS = 86_400_000;

const criticalityAt = (i: number): number => {
  // A deterministic spread that follows CRITICALITY_SHARE exactly over every 1,000 events.
  let slot = (i * 7_919) % 1_000;
  for (let level = 0; level < CRITICALITY_SHARE.length; level++) {
    slot -= (CRITICALITY_SHARE[level] as number) * 10;
    if (slot < 0) return level;
  }
  return 0;
};

/** Where {@link loadHistory} puts its events in time. */
export interface HistorySpan {
  /** How long a stretch the events are spread over, ending at `end`: 30 days unless said. */
  readonly spanMs?: number;
  /** The instant the stretch ends (exclusive), in milliseconds since the epoch: now unless said. */
  readonly end?: number;
  readonly batchSize?: number;
  /**
   * The index of the first event (its id and stream sequence follow from it), so that a history
   * can grow by loads that add events beside those already stored: 0 unless said.
   */
  readonly firstIndex?: number;
}

/**
 * Writes `count` events spread evenly over a stretch of time ending now (the last 30 days unless
 * said), straight to InfluxDB in the writer's layout (`encodePoints`), two batches in flight.
 * Returns points per second.
 */
export const loadHistory = async (
  writer: InfluxClient,
  count: number,
  { spanMs = 30 * DAY_MS, end = Date.now(), batchSize = 10_000, firstIndex = 0 }: HistorySpan = {},
): Promise<number> => {
  const start = end - spanMs;
  const step = (end - start) / count;
  const began = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const first = next;
      next = Math.min(count, next + batchSize);
      const batch: { event: SecurityEvent; sequence: number }[] = [];
      for (let at = first; at < next; at++) {
        const i = firstIndex + at;
        batch.push({
          event: {
            criticality: criticalityAt(i),
            timestamp: new Date(start + at * step).toISOString(),
            eventMessage: `Historic event ${i}: failed login for user${i % 977} from 198.51.100.${i % 254}`,
            id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
            source: "history",
          },
          sequence: i + 1,
        });
      }
      await writer.write(encodePoints(batch));
    }
  };
  await Promise.all([worker(), worker()]);
  return count / ((performance.now() - began) / 1000);
};

/** Latency percentiles, and the slowest, of the last-10 query. */
export interface LatencySummary {
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Absent from results recorded before it was measured. */
  readonly maxMs?: number;
}

/** What the requests of one phase (one at a time, or many in flight) cost: where the machine's time went. */
export interface PhaseCost {
  readonly requestsPerSecond: number;
  /** Answers that ran their own ladder of InfluxDB queries (identical requests in flight share one). */
  readonly ladders: number;
  /** InfluxDB queries those ladders ran. */
  readonly influxQueries: number;
  /** CPU per request, in microseconds, of each process. */
  readonly cpuMicrosPerRequest: {
    readonly bench: number;
    readonly natsServer: number;
    readonly reader: number;
    readonly influxd: number;
  };
  /** Share of all cores' time that was busy, whoever used it. */
  readonly machineBusy: number;
}

/** Latency of the last-10 query at one threshold. */
export interface ThresholdLatency {
  readonly minCriticality: number;
  readonly matches: number;
  readonly sequential: LatencySummary;
  readonly concurrent: LatencySummary;
  /** Absent from results recorded before it was measured. */
  readonly sequentialCost?: PhaseCost;
  /** Absent from results recorded before it was measured. */
  readonly concurrentCost?: PhaseCost;
}

const summary = (sortedMs: readonly number[]): LatencySummary => ({
  p50Ms: percentile(sortedMs, 50),
  p99Ms: percentile(sortedMs, 99),
  maxMs: sortedMs.at(-1) ?? 0,
});

const timedQuery = async (nc: NatsConnection, minCriticality: number): Promise<{ ms: number; events: number }> => {
  const began = performance.now();
  const reply = decodeQueryReply(
    (await nc.request(EVENTS_QUERY_SUBJECT, encodeJson({ minCriticality, limit: 10 }), { timeout: 30_000 })).data,
  );
  const ms = performance.now() - began;
  if (!("events" in reply)) throw new Error(`reader answered ${reply.error.code}: ${reply.error.message}`);
  return { ms, events: reply.events.length };
};

/**
 * Figure 3: the real reader answering "last 10 above N" for N = -1..10 over the history in
 * `database`, first one request at a time, then with `inFlight` requests outstanding. `readerEnv`
 * adds to the reader's environment (`READER_QUERY_WINDOWS=none` measures the unbounded query alone).
 */
export const readerLatency = async (
  influxd: Influxd,
  database: string,
  sequentialRequests: number,
  concurrentRequests: number,
  inFlight = 100,
  readerEnv: Record<string, string> = {},
): Promise<ThresholdLatency[]> => {
  const nats = await startNatsServer();
  const reader = await startService("reader", serviceEnv(nats.url, influxd.config("reader", database), readerEnv));
  const nc = await connect({ servers: nats.url });
  // The servers are this process's only children of their binaries while the figure runs.
  const natsPid = childPids(process.env.NATS_SERVER_BIN ?? "nats-server")[0];
  // 2.x is built here as influxd-<version>; the 1.x of the tests is Debian's influxd.
  const influxdPid = [...childPids(shippedServers().INFLUXD2_BIN), ...childPids("influxd")][0];
  const cpuOf = (pid: number | undefined) => (pid === undefined ? Number.NaN : cpuMicros(pid));
  const costReading = async () => ({
    at: performance.now(),
    ticks: machineTicks(),
    bench: cpuMicros(process.pid),
    natsServer: cpuOf(natsPid),
    reader: cpuMicros(reader.pid),
    influxd: cpuOf(influxdPid),
    ladders: await reader.metric("vigil_reader_query_steps_count"),
    influxQueries: await reader.metric("vigil_reader_query_steps_sum"),
  });
  const costBetween = (
    before: Awaited<ReturnType<typeof costReading>>,
    after: Awaited<ReturnType<typeof costReading>>,
    requests: number,
  ): PhaseCost => {
    const perRequest = (key: "bench" | "natsServer" | "reader" | "influxd") => (after[key] - before[key]) / requests;
    return {
      requestsPerSecond: requests / ((after.at - before.at) / 1_000),
      ladders: after.ladders - before.ladders,
      influxQueries: after.influxQueries - before.influxQueries,
      cpuMicrosPerRequest: {
        bench: perRequest("bench"),
        natsServer: perRequest("natsServer"),
        reader: perRequest("reader"),
        influxd: perRequest("influxd"),
      },
      machineBusy: busyShare(before.ticks, after.ticks),
    };
  };
  try {
    const results: ThresholdLatency[] = [];
    for (let minCriticality = -1; minCriticality <= 10; minCriticality++) {
      await timedQuery(nc, minCriticality); // warm-up
      const sequential: number[] = [];
      let matches = 0;
      const beforeSequential = await costReading();
      for (let i = 0; i < sequentialRequests; i++) {
        const { ms, events } = await timedQuery(nc, minCriticality);
        sequential.push(ms);
        matches = events;
      }
      const afterSequential = await costReading();
      const concurrent: number[] = [];
      let issued = 0;
      const before = await costReading();
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (issued++ < concurrentRequests) concurrent.push((await timedQuery(nc, minCriticality)).ms);
        }),
      );
      const after = await costReading();
      sequential.sort((a, b) => a - b);
      concurrent.sort((a, b) => a - b);
      results.push({
        minCriticality,
        matches,
        sequential: summary(sequential),
        concurrent: summary(concurrent),
        sequentialCost: costBetween(beforeSequential, afterSequential, sequential.length),
        concurrentCost: costBetween(before, after, concurrent.length),
      });
    }
    return results;
  } finally {
    await nc.close();
    await reader.process.stop("SIGTERM", 30_000);
    await nats.dispose();
  }
};

/** Figure 3 at one size of history on one InfluxDB: how it was loaded, and every run's latencies. */
export interface ReaderSize {
  /** The InfluxDB that held the history, as its `influxd version` names itself. */
  readonly influxdb: string;
  readonly events: number;
  /** Points per second of the load that brought the history to `events`. */
  readonly loadPointsPerSecond: number;
  readonly runs: readonly (readonly ThresholdLatency[])[];
}

/** How many requests, and how many runs, each size of {@link readerLatencyBySize} is measured with. */
export interface ReaderWork {
  readonly runs: number;
  readonly sequentialRequests: number;
  readonly concurrentRequests: number;
}

/**
 * Figure 3 at each of `sizes` (ascending) in `database`: the history grows by loads spread over the
 * same 30 days up to each size, and the reader is measured `work.runs` times at every size.
 */
export const readerLatencyBySize = async (
  influxd: Influxd,
  database: string,
  influxdb: string,
  sizes: readonly number[],
  work: ReaderWork,
  log: (line: string) => void,
): Promise<ReaderSize[]> => {
  const measured: ReaderSize[] = [];
  let stored = 0;
  for (const events of sizes) {
    log(`figure 3: reader latency over ${events} events spread over 30 days, ${influxdb}, ${work.runs} run(s)`);
    const loadPointsPerSecond = await loadHistory(influxd.client("writer", database), events - stored, {
      firstIndex: stored,
    });
    stored = events;
    const runs: ThresholdLatency[][] = [];
    for (let run = 0; run < work.runs; run++)
      runs.push(await readerLatency(influxd, database, work.sequentialRequests, work.concurrentRequests));
    measured.push({ influxdb, events, loadPointsPerSecond, runs });
  }
  return measured;
};
