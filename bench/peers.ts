/**
 * `pnpm bench --peers` (not part of CI): Vigil's writer beside a real peer, Telegraf
 * (`inputs.nats_consumer` on JetStream → `outputs.influxdb_v2`), on the same events, servers and
 * machine in the same run. Each peer drains the same backlog of bench/fixtures.ts events from the
 * `EVENTS` stream into a fresh InfluxDB 2.x bucket (its rate, CPU per event, peak RSS), and is killed
 * with SIGKILL while behind a publish and restarted (what it lost, counted by distinct event id).
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AckPolicy, DeliverPolicy, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { EVENTS_MEASUREMENT, type InfluxClient, type InfluxConfig } from "@vigil/influx";
import { createLogger, EventsStreamEnv, ensureEventsStream } from "@vigil/runtime";
import { EVENTS_STREAM, EVENTS_SUBJECT, encodeEvent, WRITER_CONSUMER } from "@vigil/shared";
import {
  type Influxd,
  type ManagedProcess,
  serviceEnv,
  spawnManaged,
  startInfluxd,
  startService,
  WaitAbortedError,
  waitFor,
} from "@vigil/testing";
import { ensureWriterConsumer, WriterConsumerEnv, WriterEnv, writerConsumerSettings } from "@vigil/writer";
import { syntheticEvent } from "./fixtures.js";
import { prefill, storedCount, WRITER_NODE_OPTIONS, withNats } from "./pipeline.js";
import { busyShare, cpuMicros, machineTicks, peakRssBytes } from "./process-stats.js";
import { benchCommit, shippedServers, versionOf } from "./servers.js";

/** How much work the peer comparison does. */
export interface PeersPlan {
  readonly runs: number;
  /** Events waiting in the stream when a peer starts, for its rate. */
  readonly backlog: number;
  /** Events published around the kill. */
  readonly killEvents: number;
  /** Longest a restarted peer may take to drain the stream. */
  readonly drainTimeoutMs: number;
}

export const PEERS_PLANS: Readonly<Record<"quick" | "full", PeersPlan>> = {
  quick: { runs: 1, backlog: 20_000, killEvents: 10_000, drainTimeoutMs: 120_000 },
  full: { runs: 3, backlog: 200_000, killEvents: 100_000, drainTimeoutMs: 300_000 },
};

/** How both peers batch and bound what they hold: Telegraf gets the writer's defaults. */
export interface PeerTuning {
  /** Points per InfluxDB write (WRITER_BATCH_SIZE / `metric_batch_size`). */
  readonly batchSize: number;
  /** Longest a partial batch waits (WRITER_FLUSH_INTERVAL / `flush_interval`). */
  readonly flushIntervalMs: number;
  /** Writes in flight at once (WRITER_MAX_CONCURRENT_WRITES / `concurrent_writes`). */
  readonly concurrentWrites: number;
  /** Messages delivered and not yet acknowledged (WRITER_MAX_IN_FLIGHT / `max_undelivered_messages`, `max_ack_pending`). */
  readonly maxInFlight: number;
  /** When an unacknowledged message is delivered again (WRITER_ACK_WAIT / the consumer's `ack_wait`). */
  readonly ackWaitMs: number;
}

/** The writer's defaults, which Telegraf is given too. */
export const writerDefaults = (): PeerTuning => {
  const writer = WriterEnv.parse({});
  const consumer = writerConsumerSettings(WriterConsumerEnv.parse({}));
  return {
    batchSize: writer.WRITER_BATCH_SIZE,
    flushIntervalMs: writer.WRITER_FLUSH_INTERVAL,
    concurrentWrites: writer.WRITER_MAX_CONCURRENT_WRITES,
    maxInFlight: consumer.maxAckPending,
    ackWaitMs: consumer.ackWaitMs,
  };
};

/** Where Telegraf reads and writes. */
export interface TelegrafTarget {
  readonly natsUrl: string;
  readonly influxUrl: string;
  readonly token: string;
  readonly organization: string;
  readonly bucket: string;
}

/** Telegraf's durable JetStream consumer, and the queue group its nats_consumer binds to it by. */
export const TELEGRAF_CONSUMER = "telegraf";
const TELEGRAF_DELIVER_SUBJECT = "telegraf.deliver";

/** A TOML basic string: JSON's escapes are TOML's for the text used here. */
const toml = (value: string) => JSON.stringify(value);

/**
 * Telegraf's configuration: the events stream through its durable consumer, each message a JSON
 * event turned into a point as the writer lays it out (measurement `security_events`, tag
 * `criticality`, string fields `eventMessage`, `timestamp`, `id`, `source`), batched into
 * InfluxDB 2.x uncompressed, as the writer sends. Two differences remain: Telegraf has no stream
 * sequence, so no `seq` field, and its point time is when it parsed the message (nanoseconds): the
 * event's own millisecond would make events of one criticality and millisecond overwrite each other.
 * The buffer holds twice what may be in flight, so it never drops a metric it was handed.
 */
export const telegrafConfig = (target: TelegrafTarget, tuning: PeerTuning): string => `[agent]
  interval = "10s"
  flush_interval = "${tuning.flushIntervalMs}ms"
  flush_jitter = "0s"
  metric_batch_size = ${tuning.batchSize}
  metric_buffer_limit = ${2 * tuning.maxInFlight}
  omit_hostname = true

[[inputs.nats_consumer]]
  servers = [${toml(target.natsUrl)}]
  subjects = []
  jetstream_subjects = [${toml(EVENTS_SUBJECT)}]
  jetstream_stream = ${toml(EVENTS_STREAM)}
  queue_group = ${toml(TELEGRAF_CONSUMER)}
  max_undelivered_messages = ${tuning.maxInFlight}
  data_format = "json"
  name_override = ${toml(EVENTS_MEASUREMENT)}
  tag_keys = ["criticality"]
  json_string_fields = ["eventMessage", "timestamp", "id", "source"]
  tagexclude = ["subject"]

[[outputs.influxdb_v2]]
  urls = [${toml(target.influxUrl)}]
  token = ${toml(target.token)}
  organization = ${toml(target.organization)}
  bucket = ${toml(target.bucket)}
  content_encoding = "identity"
  concurrent_writes = ${tuning.concurrentWrites}
`;

/** A reading of a draining peer: when, events stored, the peer's CPU time. */
export interface DrainSample {
  readonly atMs: number;
  readonly stored: number;
  readonly cpuMicros: number;
}

/**
 * Rate and CPU per event from the peer being ready to the backlog stored, as bench/writer-drain.ts
 * counts them: start-up is left out, and so is nothing a peer does early (Telegraf parses what it
 * may hold in flight long before it is stored).
 */
export const drainFigures = (
  ready: DrainSample,
  done: DrainSample,
  backlog: number,
): { eventsPerSecond: number; cpuMicrosPerEvent: number } => ({
  eventsPerSecond: backlog / ((done.atMs - ready.atMs) / 1000),
  cpuMicrosPerEvent: (done.cpuMicros - ready.cpuMicros) / backlog,
});

/** One peer draining a backlog. */
export interface PeerRateRun {
  readonly eventsPerSecond: number;
  readonly cpuMicrosPerEvent: number;
  readonly peakRssBytes: number;
  readonly backlog: number;
  readonly stored: number;
}

/** One peer killed with SIGKILL mid-stream and restarted. */
export interface PeerKillRun {
  readonly published: number;
  /** Events the stream had taken when the peer was killed. */
  readonly publishedAtKill: number;
  /** Distinct events stored when it was killed: below `publishedAtKill`, it was behind. */
  readonly storedAtKill: number;
  /** Messages delivered to it and not acknowledged when it was killed: what it held. */
  readonly unackedAtKill: number;
  /** Whether the restarted peer emptied the stream within the plan's drain timeout. */
  readonly drained: boolean;
  /** Distinct event ids stored. */
  readonly stored: number;
  /** Points stored: more than `stored` when an event was written twice. */
  readonly points: number;
  readonly lost: number;
  readonly duplicates: number;
}

/** Loss and duplicates from what was published and what InfluxDB holds. */
export const killOutcome = (published: number, distinctIds: number, points: number) => ({
  lost: published - distinctIds,
  duplicates: points - distinctIds,
});

export interface PeerFigures {
  readonly rate: readonly PeerRateRun[];
  readonly kill: readonly PeerKillRun[];
}

/** What `--peers` measured. */
export interface PeersResults {
  readonly plan: PeersPlan;
  readonly tuning: PeerTuning;
  readonly telegrafVersion: string;
  readonly telegrafBuild: string;
  readonly natsServer: string;
  readonly influxdb: string;
  readonly date: string;
  readonly commit: string;
  /** Share of the machine's CPU time (both cores) busy while the peers ran, theirs and every other process's. */
  readonly machineBusy: number;
  readonly vigil: PeerFigures;
  readonly telegraf: PeerFigures;
}

/** The Go build tags of the Telegraf that scripts/build-servers.sh --peers builds. */
const TELEGRAF_BUILD = "go install -tags custom,inputs.nats_consumer,outputs.influxdb_v2,parsers.json";

/** The Telegraf that `scripts/build-servers.sh --peers` built (or TELEGRAF_BIN). */
const telegrafBinary = (): string => {
  const printed = execFileSync("bash", ["scripts/build-servers.sh", "--print"], { encoding: "utf8" });
  const bin = process.env.TELEGRAF_BIN ?? /^TELEGRAF_BIN=(.*)$/m.exec(printed)?.[1] ?? "telegraf";
  try {
    accessSync(bin, constants.X_OK);
  } catch (err) {
    throw new Error(`no Telegraf at ${bin}: run scripts/build-servers.sh --peers`, { cause: err });
  }
  return bin;
};

/** A peer process that is running. */
interface RunningPeer {
  readonly pid: number;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** How to set up, start and stop one peer. */
interface Peer {
  readonly name: "vigil" | "telegraf";
  /** Its durable consumer on the events stream. */
  readonly consumer: string;
  createConsumer(jsm: JetStreamManager): Promise<void>;
  start(natsUrl: string, influx: InfluxConfig): Promise<RunningPeer>;
}

const silent = createLogger("bench", "silent");

const vigilWriter = (): Peer => ({
  name: "vigil",
  consumer: WRITER_CONSUMER,
  createConsumer: (jsm) => ensureWriterConsumer(jsm, writerConsumerSettings(WriterConsumerEnv.parse({})), silent),
  async start(natsUrl, influx) {
    // With compose's heap cap; straight to InfluxDB, as Telegraf writes (no influx-gate).
    const writer = await startService("writer", serviceEnv(natsUrl, influx, { NODE_OPTIONS: WRITER_NODE_OPTIONS }));
    return {
      pid: writer.pid,
      kill: async () => void (await writer.process.stop("SIGKILL")),
      stop: async () => void (await writer.process.stop("SIGTERM", 30_000)),
    };
  },
});

/** The organisation startInfluxd2 sets up. */
const INFLUX_ORG = "vigil";
const TELEGRAF_STARTED = "Started the NATS consumer service";

const telegraf = (bin: string, tuning: PeerTuning): Peer => ({
  name: "telegraf",
  consumer: TELEGRAF_CONSUMER,
  // Created here rather than by the plugin, whose consumer would take the server's default
  // max_ack_pending (1,000) instead of the in-flight bound the writer is given.
  createConsumer: async (jsm) => {
    await jsm.consumers.add(EVENTS_STREAM, {
      durable_name: TELEGRAF_CONSUMER,
      deliver_subject: TELEGRAF_DELIVER_SUBJECT,
      deliver_group: TELEGRAF_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: EVENTS_SUBJECT,
      ack_wait: tuning.ackWaitMs * 1_000_000,
      max_ack_pending: tuning.maxInFlight,
      max_deliver: -1,
    });
  },
  async start(natsUrl, influx) {
    if (influx.auth.kind !== "token") throw new Error("Telegraf's influxdb_v2 output needs an InfluxDB 2.x token");
    const dir = await mkdtemp(join(tmpdir(), "vigil-telegraf-"));
    const config = join(dir, "telegraf.conf");
    const target = {
      natsUrl,
      influxUrl: influx.url,
      token: influx.auth.token,
      organization: INFLUX_ORG,
      bucket: influx.database,
    };
    await writeFile(config, telegrafConfig(target, tuning));
    const proc: ManagedProcess = spawnManaged(bin, ["--config", config], { PATH: process.env.PATH ?? "" });
    const cleanUp = async (signal: NodeJS.Signals) => {
      await proc.stop(signal, 30_000);
      await rm(dir, { recursive: true, force: true });
    };
    await waitFor("Telegraf to subscribe", () => {
      if (proc.child.exitCode !== null) throw new WaitAbortedError(`telegraf exited: ${proc.output()}`);
      return proc.output().includes(TELEGRAF_STARTED);
    }).catch(async (err: unknown) => {
      await cleanUp("SIGKILL");
      throw err;
    });
    return { pid: proc.child.pid as number, kill: () => cleanUp("SIGKILL"), stop: () => cleanUp("SIGTERM") };
  },
});

/** Distinct event ids and points in the events measurement. */
const storedIds = async (admin: InfluxClient): Promise<{ distinct: number; points: number }> => {
  const series = await admin.query(`SELECT count(distinct("id")), count("id") FROM "${EVENTS_MEASUREMENT}"`);
  const row = series[0]?.values[0];
  return { distinct: Number(row?.[1] ?? 0), points: Number(row?.[2] ?? 0) };
};

const fixtures = (offset: number) => (i: number) => encodeEvent(syntheticEvent(offset + i));

/** A fresh stream, the peer's consumer and a fresh bucket, for one measurement. */
const setUp = async (influxd: Influxd, database: string, nc: NatsConnection, peer: Peer) => {
  await influxd.createDatabase(database);
  const jsm = await jetstreamManager(nc);
  await ensureEventsStream(jsm, EventsStreamEnv.parse({}), silent);
  await peer.createConsumer(jsm);
  return { jsm, admin: influxd.client("admin", database), writer: influxd.config("writer", database) };
};

const measureRate = (influxd: Influxd, database: string, peer: Peer, backlog: number): Promise<PeerRateRun> =>
  withNats(async (nats, nc) => {
    const { admin, writer } = await setUp(influxd, database, nc, peer);
    await prefill(nc, backlog, fixtures(0));
    const running = await peer.start(nats.url, writer);
    const sample = (stored: number): DrainSample => ({
      atMs: performance.now(),
      stored,
      cpuMicros: cpuMicros(running.pid),
    });
    try {
      const ready = sample(0);
      let done = ready;
      await waitFor(
        `${peer.name} to store the backlog`,
        async () => {
          done = sample(await storedCount(admin));
          return done.stored >= backlog;
        },
        600_000,
        250,
      );
      return {
        ...drainFigures(ready, done, backlog),
        peakRssBytes: peakRssBytes(running.pid),
        backlog,
        stored: done.stored,
      };
    } finally {
      await running.stop();
    }
  });

/** Share of the published events acknowledged when the peer is killed: it is then behind, holding some. */
const KILL_AT = 0.25;

const measureKill = (influxd: Influxd, database: string, peer: Peer, plan: PeersPlan): Promise<PeerKillRun> =>
  withNats(async (nats, nc) => {
    const { jsm, admin, writer } = await setUp(influxd, database, nc, peer);
    const first = await peer.start(nats.url, writer);
    const publishing = prefill(nc, plan.killEvents, fixtures(0));
    // Awaited below; this only keeps a failed publish from being unhandled while the kill waits.
    publishing.catch(() => {});
    try {
      // Both peers acknowledge what they stored; the consumer's ack floor is cheaper to read than a count.
      await waitFor(
        `${peer.name} to store a quarter of the events`,
        async () =>
          (await jsm.consumers.info(EVENTS_STREAM, peer.consumer)).ack_floor.stream_seq >= KILL_AT * plan.killEvents,
        plan.drainTimeoutMs,
        20,
      );
    } finally {
      await first.kill();
    }
    const publishedAtKill = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
    const unackedAtKill = (await jsm.consumers.info(EVENTS_STREAM, peer.consumer)).num_ack_pending;
    const storedAtKill = (await storedIds(admin)).distinct;
    await publishing;
    const second = await peer.start(nats.url, writer);
    try {
      // A work-queue stream forgets a message once it is acknowledged: empty, every message was.
      const drained = await waitFor(
        "the stream to drain",
        async () => (await jsm.streams.info(EVENTS_STREAM)).state.messages === 0,
        plan.drainTimeoutMs,
        500,
      ).then(
        () => true,
        () => false,
      );
      const { distinct, points } = await storedIds(admin);
      return {
        published: plan.killEvents,
        publishedAtKill,
        storedAtKill,
        unackedAtKill,
        drained,
        stored: distinct,
        points,
        ...killOutcome(plan.killEvents, distinct, points),
      };
    } finally {
      await second.stop();
    }
  });

/** Measures both peers, runs interleaved so that the machine's other load falls on both alike. */
export const peersFigures = async (plan: PeersPlan, log: (text: string) => void): Promise<PeersResults> => {
  const date = new Date().toISOString();
  const commit = benchCommit();
  const tuning = writerDefaults();
  const bin = telegrafBinary();
  const peers = [vigilWriter(), telegraf(bin, tuning)];
  const servers = shippedServers();
  const influxd = await startInfluxd("peers", servers.influxd);
  const figures: Record<Peer["name"], { rate: PeerRateRun[]; kill: PeerKillRun[] }> = {
    vigil: { rate: [], kill: [] },
    telegraf: { rate: [], kill: [] },
  };
  let databases = 0;
  const ticks = machineTicks();
  try {
    for (let run = 0; run < plan.runs; run++) {
      for (const peer of peers) {
        log(`peers: ${peer.name} drains ${plan.backlog} events (run ${run + 1}/${plan.runs})`);
        const rate = await measureRate(influxd, `peers_${++databases}`, peer, plan.backlog);
        figures[peer.name].rate.push(rate);
        log(`peers: ${peer.name} kill -9 mid-stream of ${plan.killEvents} events (run ${run + 1}/${plan.runs})`);
        const kill = await measureKill(influxd, `peers_${++databases}`, peer, plan);
        figures[peer.name].kill.push(kill);
        log(
          `peers: ${peer.name} ${Math.round(rate.eventsPerSecond)} events/s, ${rate.cpuMicrosPerEvent.toFixed(1)} µs/event, ` +
            `${Math.round(rate.peakRssBytes / 1_048_576)} MiB; lost ${kill.lost}, duplicated ${kill.duplicates}`,
        );
      }
    }
  } finally {
    await influxd.dispose();
  }
  return {
    plan,
    tuning,
    telegrafVersion: versionOf(bin, ["--version"]),
    telegrafBuild: TELEGRAF_BUILD,
    natsServer: servers.natsServerVersion(),
    influxdb: servers.influxdbVersion(),
    date,
    commit,
    machineBusy: busyShare(ticks, machineTicks()),
    ...figures,
  };
};
