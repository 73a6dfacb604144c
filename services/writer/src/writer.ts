import type { Consumer, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createInfluxHealth, type InfluxClient, type InfluxHealth } from "@vigil/influx";
import {
  type ConfirmedPublish,
  checkEventsStream,
  checkStream,
  createConfirmedPublish,
  deadLetterStreamConfig,
  ensureDeadLetterStream,
  ensureEventsStream,
  ensureLiveStream,
  type StreamEnv,
  streamsJetStream,
} from "@vigil/runtime";
import { decodeEvent, EVENTS_STREAM, WRITER_CONSUMER } from "@vigil/shared";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type Batcher, createBatcher } from "./batcher.js";
import { PULL_EXPIRES_MS, type WriterSettings } from "./config.js";
import { checkWriterConsumer, ensureWriterConsumer, type WriterConsumerSettings } from "./consumer.js";
import {
  claimedEventId,
  createDeadLetterPublisher,
  DEAD_LETTER_HEADER_ALLOWANCE,
  type DeadLetterPublisher,
} from "./dead-letter.js";
import { createDeadLetterLog } from "./dead-letter-log.js";
import { createKeepAlive } from "./keep-alive.js";
import { createWriterMetrics, type WriterMetrics } from "./metrics.js";
import { deliveryOf, type HeldMessage, type PendingEvent } from "./pending-event.js";
import { startPuller } from "./puller.js";
import { createShutdown } from "./shutdown.js";
import { createBatchStore, INFLUX_OUTAGE_MESSAGES } from "./store-batch.js";

/** How long a dead-letter record waits for the stream's acknowledgement before it is retried. */
const DEAD_LETTER_TIMEOUT_MS = 5_000;

/** What the writer runs on. */
export interface WriterDeps {
  /** Connection for consuming, dead-lettering and acknowledging; the caller drains it after {@link Writer.stop}. */
  readonly nc: NatsConnection;
  /** Client with write access to the events database. */
  readonly influx: InfluxClient;
  /** The connection's `inboxPrefix` (`NATS_INBOX_PREFIX`), for the dead-letter publishes' acknowledgements. */
  readonly inboxPrefix?: string | undefined;
  readonly log: Logger;
  /** Registry for the writer's metrics; one per writer. */
  readonly registry: Registry;
}

/** A running writer. */
export interface Writer {
  /** False while the last attempt to reach InfluxDB failed; feeds the readiness check. */
  influxReachable(): boolean;
  /**
   * Stops pulling, writes the batches it holds (retrying until the shutdown deadline) and
   * acknowledges what was written; everything else is handed back unacknowledged for
   * redelivery. The connection stays open for the caller to drain.
   */
  stop(): Promise<void>;
}

/** What {@link createMessageIntake} hands messages to. */
export interface MessageIntakeDeps {
  readonly batcher: Pick<Batcher<PendingEvent>, "add">;
  readonly deadLetters: DeadLetterPublisher;
  readonly metrics: Pick<WriterMetrics, "received" | "redelivered">;
  /** Largest payload taken as an event; a larger one is dead-lettered as TOO_LARGE. */
  readonly maxEventBytes: number;
}

/**
 * Returns what the writer does with each message it pulls, short of the network: count it, decode
 * it, then batch the event, or dead-letter the payload (returning the publish, which never
 * rejects). It runs once per message: the benchmarks (bench/micro.ts) measure it as the writer runs it.
 */
export const createMessageIntake =
  ({ batcher, deadLetters, metrics, maxEventBytes }: MessageIntakeDeps) =>
  (msg: HeldMessage): Promise<void> | undefined => {
    metrics.received.inc();
    const delivery = deliveryOf(msg);
    if (delivery.deliveryCount > 1) metrics.redelivered.inc();
    const decoded = decodeEvent(msg.data, maxEventBytes);
    if (decoded.ok) {
      batcher.add({ event: decoded.event, sequence: delivery.sequence, msg });
      return undefined;
    }
    const { code, reason } = decoded.rejection;
    return deadLetters.publish(msg, code, reason, claimedEventId(decoded.rejection));
  };

/** What the writer's part of the topology is made of: the three streams and its durable consumer. */
export interface WriterTopology {
  readonly streams: StreamEnv;
  readonly consumer: WriterConsumerSettings;
}

/**
 * Creates whatever of the streams and the durable consumer is missing, and corrects their
 * settings (the set-up's job, and the writer's own with NATS_TOPOLOGY=ensure). The live tail's
 * stream comes first, so that it keeps the first event the events stream republishes.
 */
export const ensureWriterTopology = async (jsm: JetStreamManager, topology: WriterTopology, log: Logger) => {
  await ensureLiveStream(jsm, topology.streams, log);
  await ensureEventsStream(jsm, topology.streams, log);
  await ensureWriterConsumer(jsm, topology.consumer, log);
  await ensureDeadLetterStream(jsm, topology.streams, log);
};

/** Checks, changing nothing, that the streams and the durable consumer are what the contract says. */
const checkWriterTopology = async (jsm: JetStreamManager, topology: WriterTopology) => {
  await checkEventsStream(jsm, topology.streams);
  await checkWriterConsumer(jsm, topology.consumer);
  await checkStream(jsm, deadLetterStreamConfig(topology.streams));
};

/** Shapes the topology or only checks it, as NATS_TOPOLOGY says. */
const prepareTopology = (jsm: JetStreamManager, settings: WriterSettings, log: Logger): Promise<void> =>
  settings.access.mode === "ensure" ? ensureWriterTopology(jsm, settings, log) : checkWriterTopology(jsm, settings);

/** What the writer's timers look after. */
interface Upkeep {
  readonly consumer: Pick<Consumer, "info">;
  readonly batcher: Pick<Batcher<PendingEvent>, "held" | "heldCount">;
  readonly influx: Pick<InfluxClient, "ping">;
  readonly health: InfluxHealth;
  readonly metrics: Pick<WriterMetrics, "consumerPending">;
  readonly log: Logger;
}

/**
 * Starts the writer's two timers: one keeps held messages alive (every message the writer holds
 * sits in a batch, nothing waits unseen in a client buffer, so keeping the batches alive keeps
 * every held message alive); the other reads the consumer backlog and, while idle, pings InfluxDB.
 */
const startUpkeep = ({ consumer, batcher, influx, health, metrics, log }: Upkeep, settings: WriterSettings) => {
  const keepAliveMs = Math.max(1, Math.floor(settings.consumer.ackWaitMs / 3));
  const keepAlive = createKeepAlive(batcher.held, keepAliveMs);
  const keepAliveTimer = setInterval(() => keepAlive.tick(Date.now()), keepAliveMs);
  const poll = setInterval(() => {
    consumer.info().then(
      (info) => metrics.consumerPending.set(info.num_pending),
      (err: unknown) => log.debug({ err }, "cannot read the consumer backlog"),
    );
    // While batches are held their writes are the probes; while idle, a ping keeps readiness current.
    if (batcher.heldCount() === 0 && Date.now() - health.lastAttemptAt() >= settings.pollIntervalMs) {
      influx.ping().then(
        () => health.succeeded(),
        (err: unknown) => health.failed(err),
      );
    }
  }, settings.pollIntervalMs);
  poll.unref();
  return { stopProbing: () => clearInterval(poll), stopKeepingAlive: () => clearInterval(keepAliveTimer) };
};

/** Wraps the intake so that stopping can wait for the dead-letter publishes it started. */
const trackDeadLettering = (intake: (msg: HeldMessage) => Promise<void> | undefined) => {
  const pending = new Set<Promise<void>>();
  return {
    accept(msg: HeldMessage): void {
      const done = intake(msg);
      if (done === undefined) return;
      pending.add(done);
      void done.then(() => pending.delete(done));
    },
    pending: (): Iterable<Promise<void>> => pending,
  };
};

/** The dead-letter publisher, the batch store and the batcher: where pulled messages go. */
const createStorage = (
  {
    nc,
    publisher,
    influx,
    metrics,
    health,
    log,
  }: Pick<WriterDeps, "nc" | "influx"> &
    Omit<Upkeep, "consumer" | "batcher"> & {
      readonly publisher: ConfirmedPublish;
      readonly metrics: WriterMetrics;
    },
  settings: WriterSettings,
  giveUp: AbortSignal,
) => {
  const retry = { initialMs: settings.retryInitialMs, maxMs: settings.retryMaxMs };
  const deadLetterLog = createDeadLetterLog(log);
  const deadLetters = createDeadLetterPublisher({
    publisher,
    timeoutMs: DEAD_LETTER_TIMEOUT_MS,
    metrics,
    log,
    deadLetterLog,
    retry,
    // Records larger than the server takes would be handed back forever: cut the payload to fit.
    maxBodyBytes: Math.max(1_024, (nc.info?.max_payload ?? 1_048_576) - DEAD_LETTER_HEADER_ALLOWANCE),
  });
  const store = createBatchStore({ influx, deadLetters, metrics, health, log }, retry, giveUp);
  const batcher = createBatcher<PendingEvent>(settings, store);
  const intake = createMessageIntake({ batcher, deadLetters, metrics, maxEventBytes: settings.maxEventBytes });
  return { batcher, intake: trackDeadLettering(intake), retry, deadLetterLog };
};

/**
 * Starts the writer: makes sure the streams and the durable consumer exist (so that start order
 * does not matter), or with NATS_TOPOLOGY=check that they are as the contract says, then pull-consumes events, validates them, writes them to InfluxDB in
 * batches and acknowledges each message once its point is stored. Payloads that can never be
 * stored go to the dead-letter stream. Several writers may share the durable consumer.
 */
export const startWriter = async (
  { nc, influx, inboxPrefix, log: root, registry }: WriterDeps,
  settings: WriterSettings,
): Promise<Writer> => {
  const log = root.child({ module: "writer" });
  const { js, jsm } = await streamsJetStream(nc, settings.access);
  await prepareTopology(jsm, settings, log);
  const consumer = await js.consumers.get(EVENTS_STREAM, WRITER_CONSUMER);
  const metrics = createWriterMetrics(registry);
  const health = createInfluxHealth(log, INFLUX_OUTAGE_MESSAGES);
  const giveUp = new AbortController();
  // Dead letters are published as the daemon publishes events: one inbox for every acknowledgement
  // instead of a request per record, so that bad input costs little more than good.
  const publisher = createConfirmedPublish(nc, { inboxPrefix });
  const { batcher, intake, retry, deadLetterLog } = createStorage(
    { nc, publisher, influx, metrics, health, log },
    settings,
    giveUp.signal,
  );
  await influx.ping().then(
    (version) => health.succeeded(version),
    (err: unknown) => health.failed(err),
  );

  const maxHeld = settings.batchSize * (settings.maxConcurrentWrites + 1);
  const upkeep = startUpkeep({ consumer, batcher, influx, health, metrics, log }, settings);
  const puller = startPuller(
    {
      source: consumer,
      room: () => maxHeld - batcher.heldCount(),
      nextWriteFinished: batcher.nextWriteFinished,
      accept: intake.accept,
      // The consumer or its stream may have been deleted: without the stream every event
      // published meanwhile is refused, so they are recreated at once (or, in check mode, the
      // reason is logged until the set-up has run again).
      recover: () =>
        prepareTopology(jsm, settings, log).catch((err: unknown) =>
          log.error({ err }, "the events stream or the writer consumer is missing or not as the contract says"),
        ),
      log,
    },
    { pullBatch: settings.pullBatch, expiresMs: PULL_EXPIRES_MS, retry },
  );
  const { batchSize, flushIntervalMs, flushWhenIdle, maxConcurrentWrites, pullBatch } = settings;
  const maxInFlight = settings.consumer.maxAckPending;
  log.info(
    { batchSize, flushIntervalMs, flushWhenIdle, maxConcurrentWrites, pullBatch, maxInFlight },
    "writer started",
  );
  const { drain } = batcher;
  const flush = () => nc.flush();
  const shutdown = createShutdown(
    { ...upkeep, puller, drain, deadLettering: intake.pending, giveUp, flush, log },
    { timeoutMs: settings.shutdownTimeoutMs, pullGraceMs: 2 * PULL_EXPIRES_MS },
  );
  const stop = async () => {
    await shutdown();
    deadLetterLog.flush();
    publisher.close();
  };
  return { influxReachable: () => health.reachable(), stop };
};
