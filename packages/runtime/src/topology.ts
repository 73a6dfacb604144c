import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { DEAD_LETTER_STREAM, DEAD_LETTER_SUBJECT, EVENTS_STREAM, EVENTS_SUBJECT } from "@vigil/shared";
import type { Logger } from "pino";
import { z } from "zod";
import { StartupError } from "./errors.js";
import { bytesVar, durationVar, intVar } from "./units.js";

/**
 * Limits of the events stream, from the environment: what a producer reads, since producers and
 * the writer each create the stream when they start first.
 */
export const EventsStreamEnv = z.object({
  /** How long an event waits in the stream for the writer before it expires. */
  EVENTS_MAX_AGE: durationVar("7d", 60_000),
  /** Most bytes of events waiting in the stream; publishes are refused beyond it. */
  EVENTS_MAX_BYTES: bytesVar("1GiB", 1_048_576),
  /** Most events waiting in the stream; publishes are refused beyond it. */
  EVENTS_MAX_MSGS: intVar(10_000_000, 1_000, Number.MAX_SAFE_INTEGER),
  /** Window in which a second publish with the same `Nats-Msg-Id` is recognised and dropped. */
  EVENTS_DUPLICATE_WINDOW: durationVar("2m", 1_000, 86_400_000),
});
export type EventsStreamEnv = z.infer<typeof EventsStreamEnv>;

/** Limits of the dead-letter stream, from the environment; only the writer, its owner, reads them. */
export const DeadLetterStreamEnv = z.object({
  /** How long dead-letter records are kept. */
  DEAD_LETTER_MAX_AGE: durationVar("30d", 60_000),
  /** Most bytes of dead-letter records; the oldest are dropped beyond it. */
  DEAD_LETTER_MAX_BYTES: bytesVar("256MiB", 1_048_576),
});
export type DeadLetterStreamEnv = z.infer<typeof DeadLetterStreamEnv>;

/** Limits of both streams, as the writer reads them. */
export const StreamEnv = EventsStreamEnv.extend(DeadLetterStreamEnv.shape);
export type StreamEnv = z.infer<typeof StreamEnv>;

/** JetStream API error code for "stream name already in use" (not in the client's table). */
const STREAM_NAME_IN_USE = 10058;

/** True when `err` is the JetStream API's answer `code` (e.g. `JetStreamApiCodes.ConsumerNotFound`). */
export const isJetStreamError = (err: unknown, code: number): boolean =>
  err instanceof JetStreamApiError && err.code === code;

/** Creates `name` with `config`, or brings the limits of an existing stream in line with it. */
const ensureStream = async (jsm: JetStreamManager, config: StreamConfig, log: Logger): Promise<void> => {
  try {
    const info = await jsm.streams.info(config.name);
    const current = info.config;
    if (current.retention !== config.retention) {
      // Retention cannot be changed in place, and a wrong one can lose events: stop and say how to fix it.
      throw new StartupError(
        `stream ${config.name} has ${current.retention} retention, Vigil needs ${config.retention}: ` +
          `let the writers drain it (num_pending 0), delete it (nats stream rm ${config.name}) and start again`,
      );
    }
    const drift =
      current.max_age !== config.max_age ||
      current.max_bytes !== config.max_bytes ||
      current.max_msgs !== config.max_msgs ||
      current.duplicate_window !== config.duplicate_window;
    if (drift) {
      await jsm.streams.update(config.name, {
        ...current,
        max_age: config.max_age,
        max_bytes: config.max_bytes,
        max_msgs: config.max_msgs,
        duplicate_window: config.duplicate_window,
      });
      log.info({ stream: config.name }, "updated stream limits");
    }
  } catch (err) {
    if (!isJetStreamError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    try {
      await jsm.streams.add(config);
      log.info({ stream: config.name, subjects: config.subjects }, "created stream");
    } catch (addErr) {
      // Another service created it between our look and our add: that is what we wanted.
      if (!isJetStreamError(addErr, STREAM_NAME_IN_USE)) throw addErr;
    }
  }
};

/**
 * The events stream. Work-queue retention keeps an event only until the writers' durable
 * consumer has acknowledged it, so the stream holds exactly the backlog that is not yet stored;
 * `discard: new` makes a full stream refuse new publishes (the publisher is told) instead of
 * silently dropping the oldest events that were never written. Interest retention would do the
 * same on paper, but nats-server 2.9 drops events it confirmed while shutting down under load on
 * an interest stream (test/faults/outages.integration.test.ts restarts it under load). A work
 * queue allows one unfiltered consumer: readers of the live flow subscribe to `events` directly.
 */
export const eventsStreamConfig = (env: EventsStreamEnv): StreamConfig =>
  ({
    name: EVENTS_STREAM,
    subjects: [EVENTS_SUBJECT],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    max_age: nanos(env.EVENTS_MAX_AGE),
    max_bytes: env.EVENTS_MAX_BYTES,
    max_msgs: env.EVENTS_MAX_MSGS,
    duplicate_window: nanos(env.EVENTS_DUPLICATE_WINDOW),
    num_replicas: 1,
  }) as StreamConfig;

/** The dead-letter stream: plain limits retention, oldest records dropped first. */
export const deadLetterStreamConfig = (env: DeadLetterStreamEnv): StreamConfig =>
  ({
    name: DEAD_LETTER_STREAM,
    subjects: [DEAD_LETTER_SUBJECT],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(env.DEAD_LETTER_MAX_AGE),
    max_bytes: env.DEAD_LETTER_MAX_BYTES,
    max_msgs: -1,
    duplicate_window: nanos(120_000),
    num_replicas: 1,
  }) as StreamConfig;

/**
 * Makes sure the events stream exists with the limits of `env`. Producers (the daemon) and the
 * writer both call it, so either may start first; the writer's durable consumer is the writer's
 * own (services/writer/src/consumer.ts): a work-queue stream keeps what is published before it
 * exists, and the consumer, created with `deliver: all`, then reads it from the first event on.
 */
export const ensureEventsStream = (jsm: JetStreamManager, env: EventsStreamEnv, log: Logger): Promise<void> =>
  ensureStream(jsm, eventsStreamConfig(env), log);

/** Makes sure the dead-letter stream exists; the writer, which dead-letters, owns it. */
export const ensureDeadLetterStream = (jsm: JetStreamManager, env: DeadLetterStreamEnv, log: Logger): Promise<void> =>
  ensureStream(jsm, deadLetterStreamConfig(env), log);
