import { randomUUID } from "node:crypto";
import { setTimeout as wait } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connect } from "@nats-io/transport-node";
import { EVENTS_MEASUREMENT, type InfluxClient } from "@vigil/influx";
import { createLogger, EventsStreamEnv, ensureEventsStream } from "@vigil/runtime";
import {
  DEAD_LETTER_STREAM,
  decodeQueryReply,
  EVENTS_QUERY_SUBJECT,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  encodeEvent,
  encodeJson,
} from "@vigil/shared";
import {
  type Influxd,
  type NatsServer,
  type RunningService,
  serviceEnv,
  startInfluxGate,
  startNatsServer,
  startService,
  waitFor,
} from "@vigil/testing";
import { ensureWriterConsumer, WriterConsumerEnv, writerConsumerSettings } from "@vigil/writer";
import { readCompose } from "../deploy/checks/deployment-files.js";
import { syntheticEvent } from "./fixtures.js";
import { busyShare, childPids, cpuMicros, machineTicks, peakRssBytes } from "./process-stats.js";
import { percentile } from "./stats.js";
import { slowDuring, watchTsmWrites } from "./storage-writes.js";

/** Servers and settings shared by the pipeline figures. */
export interface PipelineContext {
  readonly influxd: Influxd;
  /** The influxd binary, to find its process for the CPU split. */
  readonly influxdBin?: string;
  /** A fresh database name for each measurement, so runs never see each other's points. */
  nextDatabase(): Promise<string>;
}

const WRITTEN = "vigil_writer_events_written_total";

/** Number of points stored in `database`. */
export const storedCount = async (admin: InfluxClient): Promise<number> => {
  const series = await admin.query(`SELECT count("eventMessage") FROM "${EVENTS_MEASUREMENT}"`);
  return Number(series[0]?.values[0]?.[1] ?? 0);
};

/** Records in the dead-letter stream (fresh with the server): each invalid message once. */
const deadLetterCount = async (nc: NatsConnection): Promise<number> =>
  (await (await jetstreamManager(nc)).streams.info(DEAD_LETTER_STREAM)).state.messages;

/** Messages ever stored in the events stream (it is fresh, so its last sequence). */
const streamedCount = async (nc: NatsConnection): Promise<number> =>
  (await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM)).state.last_seq;

/** Runs `use` against a fresh nats-server and a connection to it, both closed afterwards. */
export const withNats = async <T>(use: (nats: NatsServer, nc: NatsConnection) => Promise<T>): Promise<T> => {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    return await use(nats, nc);
  } finally {
    await nc.close();
    await nats.dispose();
  }
};

/** The writer's NODE_OPTIONS (its heap cap) as docker-compose.yml sets them. */
export const WRITER_NODE_OPTIONS = String(
  readCompose("docker-compose.yml").services.writer?.environment?.NODE_OPTIONS ?? "",
);

/**
 * The writer as compose runs it (its NODE_OPTIONS included): storing through an influx-gate of its own, which holds the
 * InfluxDB credential. Both are stopped by `stop`.
 */
const startStoringWriter = async (natsUrl: string, context: PipelineContext, database: string, count = 1) => {
  const gate = await startInfluxGate(context.influxd.config("writer", database));
  const writers: RunningService[] = [];
  const stop = async () => {
    await Promise.all(writers.map((writer) => writer.process.stop("SIGTERM", 30_000)));
    await gate.service.process.stop("SIGTERM", 30_000);
  };
  const shipped = { NODE_OPTIONS: WRITER_NODE_OPTIONS };
  try {
    for (let i = 0; i < count; i++)
      writers.push(await startService("writer", serviceEnv(natsUrl, gate.config, shipped)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { writers, writer: writers[0] as RunningService, gate: gate.service, stop };
};

/** Creates the events stream and writer consumer exactly as the services would. */
const createTopology = async (nc: NatsConnection) => {
  const jsm = await jetstreamManager(nc);
  const log = createLogger("bench", "silent");
  await ensureEventsStream(jsm, EventsStreamEnv.parse({}), log);
  await ensureWriterConsumer(jsm, writerConsumerSettings(WriterConsumerEnv.parse({})), log);
};

/** Waits until every event the stream took is stored; returns how many are missing (0 = no loss). */
const awaitNoLoss = async (nc: NatsConnection, admin: InfluxClient, timeoutMs = 180_000) => {
  const expected = await streamedCount(nc);
  let stored = 0;
  await waitFor(
    "every streamed event to be stored",
    async () => {
      stored = await storedCount(admin);
      return stored >= expected;
    },
    timeoutMs,
    500,
  ).catch(() => undefined);
  return { expected, stored, missing: expected - stored };
};

/** Result of one sustained end-to-end run. */
export interface SustainedRun {
  readonly eventsPerSecond: number;
  readonly publishedPerSecond: number;
  readonly writerCpuMicrosPerEvent: number;
  /** The influx-gate's CPU per stored event (absent from results measured before the gate). */
  readonly gateCpuMicrosPerEvent?: number;
  /** The other processes' CPU per stored event, and the share of the machine busy (absent from older results). */
  readonly cpuMicrosPerEvent?: {
    readonly daemon: number;
    readonly natsServer: number;
    readonly influxd: number;
    readonly machineBusy: number;
  };
  readonly writerPeakRssBytes: number;
  readonly confirmed: number;
  readonly stored: number;
  readonly missing: number;
}

/**
 * Figure 1 (and the sustained half of figure 4): the real daemon publishing as fast as its
 * confirmations allow and the real writer storing, both as their own processes. Throughput is
 * measured on the writer after a warm-up; loss is checked by count after the daemon stops. With
 * `writerCount` writers sharing the durable consumer (how cost grows), their figures are summed
 * (CPU) or the highest (RSS).
 */
export const sustainedEndToEnd = (
  context: PipelineContext,
  seconds: number,
  warmupSeconds = 3,
  writerCount = 1,
): Promise<SustainedRun> =>
  withNats(async (nats, nc) => {
    const database = await context.nextDatabase();
    const admin = context.influxd.client("admin", database);
    const { writers, gate, stop } = await startStoringWriter(nats.url, context, database, writerCount);
    const daemon = await startService("daemon", serviceEnv(nats.url, undefined, { DAEMON_RATE: "0" }));
    // Where the CPU goes, per process: the servers are this process's only children of their binary.
    const natsPid = childPids(process.env.NATS_SERVER_BIN ?? "nats-server")[0];
    const influxdPid = context.influxdBin === undefined ? undefined : childPids(context.influxdBin)[0];
    const cpuOf = (pid: number | undefined) => (pid === undefined ? Number.NaN : cpuMicros(pid));
    const sample = async () => ({
      written: (await Promise.all(writers.map((writer) => writer.metric(WRITTEN)))).reduce((a, b) => a + b, 0),
      streamed: await streamedCount(nc),
      cpu: writers.reduce((sum, writer) => sum + cpuMicros(writer.pid), 0),
      gateCpu: cpuMicros(gate.pid),
      daemonCpu: cpuMicros(daemon.pid),
      natsCpu: cpuOf(natsPid),
      influxdCpu: cpuOf(influxdPid),
      ticks: machineTicks(),
      at: performance.now(),
    });
    try {
      await wait(warmupSeconds * 1000);
      const before = await sample();
      await wait(seconds * 1000);
      const after = await sample();
      await daemon.process.stop("SIGTERM", 30_000);
      const loss = await awaitNoLoss(nc, admin);
      const elapsed = (after.at - before.at) / 1000;
      const stored = Math.max(1, after.written - before.written);
      return {
        eventsPerSecond: (after.written - before.written) / elapsed,
        publishedPerSecond: (after.streamed - before.streamed) / elapsed,
        writerCpuMicrosPerEvent: (after.cpu - before.cpu) / stored,
        gateCpuMicrosPerEvent: (after.gateCpu - before.gateCpu) / stored,
        cpuMicrosPerEvent: {
          daemon: (after.daemonCpu - before.daemonCpu) / stored,
          natsServer: (after.natsCpu - before.natsCpu) / stored,
          influxd: (after.influxdCpu - before.influxdCpu) / stored,
          machineBusy: busyShare(before.ticks, after.ticks),
        },
        writerPeakRssBytes: Math.max(...writers.map((writer) => peakRssBytes(writer.pid))),
        confirmed: loss.expected,
        stored: loss.stored,
        missing: loss.missing,
      };
    } finally {
      await daemon.process.stop("SIGKILL");
      await stop();
    }
  });

/** Result of one latency run. */
export interface LatencyRun {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly probes: number;
  readonly seen: number;
  readonly loadPerSecond: number;
  /**
   * What InfluxDB wrote to disk while the probes ran (absent from older results): its stretches of
   * writing TSM files (cache snapshots and compactions), and of the probes at or above the run's
   * p99, how many waited while one was being written.
   */
  readonly storageWrites?: {
    readonly writes: number;
    readonly longestMs: number;
    /** Of the time the probes ran, the share during which a TSM file was being written. */
    readonly busyShare: number;
    readonly tailProbes: number;
    readonly tailProbesDuringWrites: number;
  };
}

/**
 * Figure 2: publish-to-queryable latency. The daemon publishes at `rate` events/s (criticality
 * 10 switched off); the bench publishes probe events of criticality 10 every 20 ms and asks the
 * real reader for the newest criticality-10 events every 10 ms. A probe's latency runs from just
 * before its publish to the first reply that contains it. Meanwhile the TSM files InfluxDB writes are
 * watched, to tell whether the slowest probes waited on them.
 */
export const publishToQueryable = (
  context: PipelineContext,
  rate: number,
  seconds: number,
  warmupSeconds = 2,
): Promise<LatencyRun> =>
  withNats(async (nats, nc) => {
    const database = await context.nextDatabase();
    await createTopology(nc);
    const writer = await startStoringWriter(nats.url, context, database);
    const reader = await startService("reader", serviceEnv(nats.url, context.influxd.config("reader", database), {}));
    const daemon = await startService(
      "daemon",
      serviceEnv(nats.url, undefined, {
        DAEMON_RATE: String(rate),
        DAEMON_CRITICALITY_WEIGHTS: "1,1,1,1,1,1,1,1,1,1,0",
      }),
    );
    const js = jetstream(nc);
    const sentAt = new Map<string, number>();
    const latencies: { sent: number; ms: number }[] = [];
    let running = true;
    let storage: ReturnType<typeof watchTsmWrites> | undefined;
    try {
      await wait(warmupSeconds * 1000);
      const c0 = await streamedCount(nc);
      const t0 = performance.now();
      storage = context.influxd.dataDir === undefined ? undefined : watchTsmWrites(context.influxd.dataDir);
      const poll = (async () => {
        const request = encodeJson({ minCriticality: 9, limit: 200 });
        while (running || sentAt.size > 0) {
          const reply = decodeQueryReply((await nc.request(EVENTS_QUERY_SUBJECT, request, { timeout: 5_000 })).data);
          const now = performance.now();
          if ("events" in reply) {
            for (const event of reply.events) {
              const sent = event.id === undefined ? undefined : sentAt.get(event.id);
              if (sent === undefined || event.id === undefined) continue;
              latencies.push({ sent, ms: now - sent });
              sentAt.delete(event.id);
            }
          }
          if (!running && performance.now() - t0 > (seconds + 30) * 1000) break;
          await wait(10);
        }
      })();
      let probes = 0;
      while (performance.now() - t0 < seconds * 1000) {
        const id = randomUUID();
        const event = { ...syntheticEvent(probes++), criticality: 10, source: "probe", id };
        sentAt.set(id, performance.now());
        await js.publish(EVENTS_SUBJECT, encodeEvent(event), { msgID: id });
        await wait(20);
      }
      const loadPerSecond = ((await streamedCount(nc)) - c0) / ((performance.now() - t0) / 1000);
      running = false;
      await poll;
      const probing = { from: t0, to: performance.now() };
      const writes = await storage?.stop();
      const sorted = latencies.map((probe) => probe.ms).sort((a, b) => a - b);
      const p99Ms = percentile(sorted, 99);
      const tail = writes === undefined ? undefined : slowDuring(latencies, writes, p99Ms);
      return {
        p50Ms: percentile(sorted, 50),
        p99Ms,
        maxMs: sorted.at(-1) ?? Number.NaN,
        probes,
        seen: sorted.length,
        loadPerSecond,
        ...(writes === undefined || tail === undefined
          ? {}
          : {
              storageWrites: {
                writes: writes.length,
                longestMs: Math.max(0, ...writes.map((write) => write.to - write.from)),
                busyShare:
                  writes.reduce((sum, write) => sum + (write.to - write.from), 0) / (probing.to - probing.from),
                tailProbes: tail.slow,
                tailProbesDuringWrites: tail.during,
              },
            }),
      };
    } finally {
      running = false;
      await storage?.stop();
      await daemon.process.stop("SIGKILL");
      await Promise.all([writer.stop(), reader.process.stop("SIGTERM", 30_000)]);
    }
  });

/** Publishes `count` payloads into the events stream as fast as confirmations allow. */
export const prefill = async (
  nc: NatsConnection,
  count: number,
  payloadFor: (i: number) => Uint8Array,
  inFlight = 2_000,
) => {
  const js = jetstream(nc);
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < count; i++) {
    const ack = js.publish(EVENTS_SUBJECT, payloadFor(i)).finally(() => pending.delete(ack));
    pending.add(ack);
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
};

/** Result of one backlog drain. */
export interface DrainRun {
  readonly validPerSecond: number;
  readonly writerCpuMicrosPerEvent: number;
  /** The influx-gate's CPU per message drained (absent from results measured before the gate). */
  readonly gateCpuMicrosPerEvent?: number;
  readonly writerPeakRssBytes: number;
  readonly valid: number;
  readonly stored: number;
  readonly deadLettered: number;
  readonly missing: number;
}

/**
 * The writer started against a backlog already waiting in the stream: the hardest load it can
 * face, as every event is available at once. Used for the overload half of figure 4 (memory must
 * stay bounded) and for figure 5 (`invalidShare` of the messages are invalid).
 */
export const drainBacklog = (context: PipelineContext, backlog: number, invalidShare: number): Promise<DrainRun> =>
  withNats(async (nats, nc) => {
    const database = await context.nextDatabase();
    const admin = context.influxd.client("admin", database);
    await createTopology(nc);
    const every = invalidShare > 0 ? Math.round(1 / invalidShare) : 0;
    const badPayloads = [
      new TextEncoder().encode("{not json"),
      encodeJson({ minCriticality: 1, limit: 1 }),
      new TextEncoder().encode('{"criticality":42,"timestamp":"yesterday","eventMessage":""}'),
    ];
    const isInvalid = (i: number) => every > 0 && i % every === every - 1;
    await prefill(nc, backlog, (i) =>
      isInvalid(i) ? (badPayloads[i % badPayloads.length] as Uint8Array) : encodeEvent(syntheticEvent(i)),
    );
    let invalid = 0;
    for (let i = 0; i < backlog; i++) if (isInvalid(i)) invalid++;
    const valid = backlog - invalid;

    const started = performance.now();
    const { writer, gate, stop } = await startStoringWriter(nats.url, context, database);
    try {
      const [c0, g0] = [cpuMicros(writer.pid), cpuMicros(gate.pid)];
      await waitFor("the backlog to drain", async () => (await writer.metric(WRITTEN)) >= valid, 600_000, 100);
      const elapsed = (performance.now() - started) / 1000;
      const [cpu, gateCpu] = [cpuMicros(writer.pid) - c0, cpuMicros(gate.pid) - g0];
      // Each invalid message recorded once: counted in the dead-letter stream, not the writer's metric.
      let deadLettered = 0;
      await waitFor(
        "every invalid message to be dead-lettered",
        async () => {
          deadLettered = await deadLetterCount(nc);
          return deadLettered >= invalid;
        },
        60_000,
        100,
      ).catch(() => undefined);
      const stored = await storedCount(admin);
      return {
        validPerSecond: valid / elapsed,
        writerCpuMicrosPerEvent: cpu / backlog,
        gateCpuMicrosPerEvent: gateCpu / backlog,
        writerPeakRssBytes: peakRssBytes(writer.pid),
        valid,
        stored,
        deadLettered,
        missing: valid - stored,
      };
    } finally {
      await stop();
    }
  });
