import { type ConsumerMessages, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createInfluxHealth, type InfluxClient } from "@vigil/influx";
import { backoffDelay, ensureDeadLetterStream, ensureEventsStream, sleep } from "@vigil/runtime";
import { decodeEvent, EVENTS_STREAM, WRITER_CONSUMER } from "@vigil/shared";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type Batcher, createBatcher } from "./batcher.js";
import { PULL_EXPIRES_MS, type WriterSettings } from "./config.js";
import { ensureWriterConsumer } from "./consumer.js";
import {
  claimedEventId,
  createDeadLetterPublisher,
  DEAD_LETTER_HEADER_ALLOWANCE,
  type DeadLetterPublisher,
} from "./dead-letter.js";
import { createKeepAlive } from "./keep-alive.js";
import { createWriterMetrics, type WriterMetrics } from "./metrics.js";
import { deliveryOf, type HeldMessage, type PendingEvent } from "./pending-event.js";
import { createBatchStore, INFLUX_OUTAGE_MESSAGES } from "./store-batch.js";

/** What the writer runs on. */
export interface WriterDeps {
  /** Connection for consuming, dead-lettering and acknowledging; the caller drains it after {@link Writer.stop}. */
  readonly nc: NatsConnection;
  /** Client with write access to the events database. */
  readonly influx: InfluxClient;
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
    const eventId = code === "INVALID_EVENT" ? claimedEventId(msg.data) : undefined;
    return deadLetters.publish(msg, code, reason, eventId);
  };

const whenAborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });

/**
 * Starts the writer: makes sure the streams and the durable consumer exist (so that start order
 * does not matter), then pull-consumes events, validates them, writes them to InfluxDB in
 * batches and acknowledges each message once its point is stored. Payloads that can never be
 * stored go to the dead-letter stream. Several writers may share the durable consumer.
 */
export const startWriter = async (
  { nc, influx, log: root, registry }: WriterDeps,
  settings: WriterSettings,
): Promise<Writer> => {
  const log = root.child({ module: "writer" });
  const jsm = await jetstreamManager(nc);
  const ensureTopology = async () => {
    await ensureEventsStream(jsm, settings.streams, log);
    await ensureWriterConsumer(jsm, settings.consumer, log);
    await ensureDeadLetterStream(jsm, settings.streams, log);
  };
  await ensureTopology();
  const js = jetstream(nc);
  const consumer = await js.consumers.get(EVENTS_STREAM, WRITER_CONSUMER);

  const metrics = createWriterMetrics(registry);
  const health = createInfluxHealth(log, INFLUX_OUTAGE_MESSAGES);
  const retry = { initialMs: settings.retryInitialMs, maxMs: settings.retryMaxMs };
  const stopping = new AbortController();
  // Aborted at the shutdown deadline: held batches stop retrying and are handed back.
  const giveUp = new AbortController();
  const deadLetters = createDeadLetterPublisher({
    js,
    metrics,
    log,
    retry,
    // Records larger than the server takes would be handed back forever: cut the payload to fit.
    maxBodyBytes: Math.max(1_024, (nc.info?.max_payload ?? 1_048_576) - DEAD_LETTER_HEADER_ALLOWANCE),
  });
  const store = createBatchStore({ influx, deadLetters, metrics, health, log }, retry, giveUp.signal);
  const batcher = createBatcher<PendingEvent>(settings, store);
  const deadLettering = new Set<Promise<void>>();

  await influx.ping().then(
    (version) => health.succeeded(version),
    (err: unknown) => health.failed(err),
  );

  const intake = createMessageIntake({ batcher, deadLetters, metrics, maxEventBytes: settings.maxEventBytes });
  const accept = (msg: JsMsg): void => {
    const done = intake(msg);
    if (done === undefined) return;
    deadLettering.add(done);
    void done.then(() => deadLettering.delete(done));
  };

  // Every message the writer holds sits in a batch (nothing waits unseen in a client buffer, see
  // the pull below), so keeping the batches alive keeps every held message alive.
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

  // Messages are pulled with one fetch at a time, never more than there is room for: a message
  // pulled is at once in a batch, where it is kept alive and counted. While InfluxDB is down the
  // batches fill up, the room drops to zero and the writer stops pulling until a write succeeds.
  const maxHeld = settings.batchSize * (settings.maxConcurrentWrites + 1);
  let fetching: ConsumerMessages | undefined;
  let pullEnded: Promise<number> = Promise.resolve(0);
  let pullOpen = false;
  let pullCut = false;

  const pull = async (maxMessages: number): Promise<number> => {
    let pulled = 0;
    pullOpen = true;
    try {
      fetching = await consumer.fetch({ max_messages: maxMessages, expires: PULL_EXPIRES_MS });
      for await (const msg of fetching) {
        if (pullCut) {
          // Delivered after stopping cut the pull short: never batched, handed back.
          msg.nak();
          continue;
        }
        pulled++;
        accept(msg);
      }
    } finally {
      pullOpen = false;
    }
    return pulled;
  };

  const consuming = (async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      const room = maxHeld - batcher.heldCount();
      if (room <= 0) {
        await batcher.nextWriteFinished();
        continue;
      }
      const started = Date.now();
      let pulled = 0;
      try {
        pullEnded = pull(Math.min(room, settings.pullBatch));
        pulled = await pullEnded;
      } catch (err) {
        if (stopping.signal.aborted) break;
        log.error({ err }, "pulling events failed; retrying");
        // The consumer or its stream may have been deleted: without the stream every event
        // published meanwhile is refused, so they are recreated at once.
        await ensureTopology().catch((topologyErr: unknown) =>
          log.error({ err: topologyErr }, "cannot recreate the events stream and consumer"),
        );
      }
      // A pull that ends early with nothing (an error, a server refusing requests) must not spin.
      if (pulled > 0 || Date.now() - started >= PULL_EXPIRES_MS) failures = 0;
      else await sleep(backoffDelay(failures++, retry.initialMs, retry.maxMs), stopping.signal);
    }
  })();

  log.info(
    {
      batchSize: settings.batchSize,
      flushIntervalMs: settings.flushIntervalMs,
      maxConcurrentWrites: settings.maxConcurrentWrites,
      pullBatch: settings.pullBatch,
      maxInFlight: settings.consumer.maxAckPending,
    },
    "writer started",
  );

  let stopped: Promise<void> | undefined;
  const stop = async () => {
    stopping.abort();
    clearInterval(poll);
    // The pull request in progress is left to end (filled, or expired after PULL_EXPIRES_MS) and
    // what it brings is batched like the rest: the server cannot be told to cancel it, and a
    // message it delivered to a closed subscription would sit unacknowledged for the whole ack
    // wait, as would a message handed back while it is still open (it would go straight to it).
    const pullWait = new AbortController();
    await Promise.race([pullEnded.catch(() => 0), sleep(2 * PULL_EXPIRES_MS, pullWait.signal)]);
    pullWait.abort();
    if (pullOpen) {
      pullCut = true;
      void fetching?.close();
    }
    const deadline = setTimeout(() => giveUp.abort(), settings.shutdownTimeoutMs);
    // Sends what waits for a slot, and releases the pull loop if it waits for room.
    const drained = batcher.drain();
    await consuming;
    await Promise.race([Promise.all([drained, ...deadLettering]), whenAborted(giveUp.signal)]);
    if (giveUp.signal.aborted) {
      // Batches waiting to retry hand their messages back as soon as they see the abort; one turn
      // of the event loop lets them. A write still waiting on InfluxDB is not waited for.
      await sleep(0);
      log.warn("shutdown deadline passed; unwritten events were handed back");
    }
    clearTimeout(deadline);
    clearInterval(keepAliveTimer);
    await nc.flush().catch((err: unknown) => log.warn({ err }, "cannot flush acknowledgements"));
    log.info("writer stopped");
  };

  return {
    influxReachable: () => health.reachable(),
    stop: () => {
      stopped ??= stop();
      return stopped;
    },
  };
};
