import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type Republish,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import {
  AUDIT_STREAM,
  AUDIT_SUBJECT,
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECT,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  LIVE_STREAM,
  LIVE_SUBJECT,
} from "@vigil/shared";
import type { Logger } from "pino";
import { z } from "zod";
import { StartupError } from "./errors.js";
import { CREATE_TOPOLOGY_FIRST } from "./streams-access.js";
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

/** Limits of the gateway's audit stream, from the environment; the gateway owns it. */
export const AuditStreamEnv = z.object({
  /** How long audit records are kept. */
  AUDIT_MAX_AGE: durationVar("90d", 60_000),
  /** Most bytes of audit records; the oldest are dropped beyond it. */
  AUDIT_MAX_BYTES: bytesVar("1GiB", 1_048_576),
});
export type AuditStreamEnv = z.infer<typeof AuditStreamEnv>;

/**
 * Limits of the live tail's stream, from the environment: what the writer creates it with and what
 * the gateway checks it against. The window a live-tail client can resume within is whichever of
 * the two limits is reached first.
 */
export const LiveStreamEnv = z.object({
  /**
   * Most events kept for resuming live-tail clients; the oldest are dropped beyond it. The default
   * covers 100,000 events always, and 10 minutes of events up to about 1,666 events a second.
   */
  LIVE_MAX_MSGS: intVar(1_000_000, 10, Number.MAX_SAFE_INTEGER),
  /**
   * Most bytes kept; the oldest events are dropped beyond it. The default holds 100,000 events even
   * at the largest event size (8 KiB plus about 300 bytes of headers each).
   */
  LIVE_MAX_BYTES: bytesVar("1GiB", 1_048_576),
});
export type LiveStreamEnv = z.infer<typeof LiveStreamEnv>;

/** Limits of the streams the writer creates, as the writer reads them. */
export const StreamEnv = EventsStreamEnv.extend(DeadLetterStreamEnv.shape).extend(LiveStreamEnv.shape);
export type StreamEnv = z.infer<typeof StreamEnv>;

/** The stream limits out of a parsed environment that holds more than them, frozen. */
export const streamLimits = (env: StreamEnv): StreamEnv =>
  Object.freeze(
    Object.fromEntries(Object.keys(StreamEnv.shape).map((name) => [name, env[name as keyof StreamEnv]])),
  ) as StreamEnv;

/** JetStream API error code for "stream name already in use" (not in the client's table). */
const STREAM_NAME_IN_USE = 10058;

/** True when `err` is the JetStream API's answer `code` (e.g. `JetStreamApiCodes.ConsumerNotFound`). */
export const isJetStreamError = (err: unknown, code: number): boolean =>
  err instanceof JetStreamApiError && err.code === code;

/** One way in which a stream or consumer differs from the contract. */
export interface Drift {
  readonly field: string;
  readonly found: unknown;
  readonly wanted: unknown;
  /** Whether an update can bring the field back in line (a seal or a retention cannot be undone). */
  readonly fixable: boolean;
}

/** `field: found (wanted ...)`, one per drift, for a log line or an error message. */
export const describeDrift = (drift: readonly Drift[]): string =>
  drift
    .map(
      ({ field, found, wanted }) =>
        `${field} is ${JSON.stringify(found) ?? "unset"} (Vigil needs ${JSON.stringify(wanted)})`,
    )
    .join("; ");

/** Unset, false, 0 or -1: what the server reports for a limit or a feature nobody turned on. */
const isOff = (value: unknown): boolean =>
  value === undefined || value === null || value === false || value === 0 || value === -1 || value === "";
const isEmpty = (value: unknown): boolean => isOff(value) || (Array.isArray(value) && value.length === 0);
const sameSubjects = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
  JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...(b ?? [])].sort());
/** Whether a stream's `republish` is `wanted`'s exactly; none at all when nothing is wanted. */
const sameRepublish = (found: unknown, wanted: Republish | undefined): boolean => {
  if (wanted === undefined) return isEmpty(found);
  const republish = found as Partial<Republish> | undefined;
  return (
    republish?.src === wanted.src &&
    republish.dest === wanted.dest &&
    Boolean(republish.headers_only) === Boolean(wanted.headers_only)
  );
};

type Rule = readonly [
  field: keyof StreamConfig,
  matches: (found: unknown) => boolean,
  wanted: unknown,
  fixable: boolean,
];

/**
 * Every field of a stream on which Vigil's guarantees rest, with the value the contract needs.
 * Beyond the contract's own settings, each feature that could lose, hide or divert an event
 * (rollups, per-subject limits, republishing other than the contract's, mirrors and sources,
 * message TTLs, no publish acks) must be off; a seal, the retention and the storage can never be
 * changed back by an update.
 */
const streamRules = (wanted: StreamConfig): readonly Rule[] => [
  ["subjects", (found) => sameSubjects(found as string[] | undefined, wanted.subjects), wanted.subjects, true],
  ["retention", (found) => found === wanted.retention, wanted.retention, false],
  ["storage", (found) => found === wanted.storage, wanted.storage, false],
  ["discard", (found) => found === wanted.discard, wanted.discard, true],
  ["max_age", (found) => found === wanted.max_age, wanted.max_age, true],
  ["max_bytes", (found) => found === wanted.max_bytes, wanted.max_bytes, true],
  ["max_msgs", (found) => found === wanted.max_msgs, wanted.max_msgs, true],
  ["duplicate_window", (found) => found === wanted.duplicate_window, wanted.duplicate_window, true],
  ["sealed", (found) => found !== true, false, false],
  // Once true, the server never lets deny_delete or deny_purge go back to false.
  ["deny_delete", (found) => Boolean(found) === wanted.deny_delete, wanted.deny_delete, wanted.deny_delete],
  ["deny_purge", (found) => Boolean(found) === wanted.deny_purge, wanted.deny_purge, wanted.deny_purge],
  ["allow_rollup_hdrs", (found) => found !== true, false, true],
  ["no_ack", (found) => found !== true, false, true],
  ["max_msgs_per_subject", isOff, -1, true],
  ["max_msg_size", isOff, -1, true],
  ["discard_new_per_subject", isOff, false, true],
  // nats-server 2.11 sets or changes a republish on update, but keeps one that an update leaves
  // out: a stream that must not republish cannot be corrected, one that must (EVENTS) can.
  ["republish", (found) => sameRepublish(found, wanted.republish), wanted.republish, wanted.republish !== undefined],
  // Also kept when an update leaves it out.
  ["subject_transform", isEmpty, undefined, false],
  ["mirror", isEmpty, undefined, false],
  ["sources", isEmpty, undefined, true],
  ["allow_msg_ttl", isOff, false, false],
  ["subject_delete_marker_ttl", isOff, undefined, true],
];

/** How `found` differs from `wanted` in any field that matters; empty when it is what Vigil needs. */
export const streamDrift = (found: StreamConfig, wanted: StreamConfig): Drift[] =>
  streamRules(wanted)
    .filter(([field, matches]) => !matches(found[field]))
    .map(([field, , want, fixable]) => ({ field, found: found[field], wanted: want, fixable }));

/** `found` with every field of the contract put back: what an update sends. */
const correctedStream = (found: StreamConfig, wanted: StreamConfig): StreamConfig => {
  const { sources: _s, subject_delete_marker_ttl: _m, ...rest } = found;
  return {
    ...rest,
    ...wanted,
    allow_rollup_hdrs: false,
    no_ack: false,
    max_msgs_per_subject: -1,
    max_msg_size: -1,
    discard_new_per_subject: false,
  } as StreamConfig;
};

const tamperedStreamError = (name: string, drift: readonly Drift[], cause?: unknown): StartupError =>
  new StartupError(
    `stream ${name} is not what Vigil needs, refusing to run on it: ${describeDrift(drift)}. ` +
      (drift.some((d) => !d.fixable)
        ? `No update can undo this: copy out what it holds (nats stream backup ${name}), ` +
          `delete it (nats stream rm ${name}) and start the writer, which creates it again`
        : "Start the writer, whose credential may correct it, and this service after it"),
    cause === undefined ? undefined : { cause },
  );

/** Refuses, with a clear message, a stream `found` that differs from `wanted` in any field that matters. */
const assertStream = (found: StreamConfig, wanted: StreamConfig): void => {
  const drift = streamDrift(found, wanted);
  if (drift.length > 0) throw tamperedStreamError(wanted.name, drift);
};

/**
 * Checks, without changing anything, that stream `config.name` exists and is what the contract
 * says in every field that matters; throws a {@link StartupError} otherwise. For services whose
 * credential may not administer streams.
 */
export const checkStream = async (jsm: JetStreamManager, config: StreamConfig): Promise<void> => {
  try {
    assertStream((await jsm.streams.info(config.name)).config, config);
  } catch (err) {
    if (!isJetStreamError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    throw new StartupError(`stream ${config.name} does not exist: ${CREATE_TOPOLOGY_FIRST}`, {
      cause: err,
    });
  }
};

/** Brings an existing stream in line with `config`, or refuses to run on it. */
const correctStream = async (jsm: JetStreamManager, found: StreamConfig, config: StreamConfig, log: Logger) => {
  const drift = streamDrift(found, config);
  if (drift.length === 0) return;
  if (drift.some((d) => !d.fixable)) throw tamperedStreamError(config.name, drift);
  try {
    const updated = await jsm.streams.update(config.name, correctedStream(found, config));
    assertStream(updated.config, config);
  } catch (err) {
    if (err instanceof StartupError) throw err;
    throw tamperedStreamError(config.name, drift, err);
  }
  log.warn({ stream: config.name, drift: describeDrift(drift) }, "corrected stream configuration");
};

/** True when the server refused the request's subject to this user (a permissions violation). */
export const isPermissionError = (err: unknown): boolean =>
  err instanceof Error && (err.name === "PermissionViolationError" || /permissions? violation/i.test(err.message));

/** Creates `name` with `config`, or brings an existing stream in line with it, or refuses to run on it. */
const ensureStream = async (jsm: JetStreamManager, config: StreamConfig, log: Logger): Promise<void> => {
  let found: StreamConfig;
  try {
    found = (await jsm.streams.info(config.name)).config;
  } catch (err) {
    if (!isJetStreamError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    try {
      await jsm.streams.add(config);
      log.info({ stream: config.name, subjects: config.subjects }, "created stream");
      return;
    } catch (addErr) {
      if (isPermissionError(addErr))
        throw new StartupError(
          `stream ${config.name} does not exist and this credential may not create it: start the writer ` +
            "(which creates the topology) first",
          { cause: addErr },
        );
      // Another service created it between our look and our add: check what it made.
      if (!isJetStreamError(addErr, STREAM_NAME_IN_USE)) throw addErr;
      found = (await jsm.streams.info(config.name)).config;
    }
  }
  await correctStream(jsm, found, config, log);
};

/**
 * The events stream. Work-queue retention keeps an event only until the writers' durable
 * consumer has acknowledged it, so the stream holds exactly the backlog that is not yet stored;
 * `discard: new` makes a full stream refuse new publishes (the publisher is told) instead of
 * silently dropping the oldest events that were never written. Interest retention would do the
 * same on paper, but nats-server 2.9 drops events it confirmed while shutting down under load on
 * an interest stream (test/faults/outages.integration.test.ts restarts it under load). A work
 * queue allows one unfiltered consumer and forgets what it acknowledged, so the live tail cannot read
 * it: every event the stream stores is republished on `live.events`, which {@link liveStreamConfig}'s
 * stream keeps for it. The republished copy carries the publisher's headers plus `Nats-Stream`,
 * `Nats-Subject`, `Nats-Sequence` (its sequence here), `Nats-Time-Stamp` and `Nats-Last-Sequence`.
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
    republish: { src: EVENTS_SUBJECT, dest: LIVE_SUBJECT },
    // Nothing legitimate deletes or purges an event: the writer's acknowledgement removes it.
    // With deny_purge the server also refuses rollups. Neither flag can ever be cleared again.
    deny_delete: true,
    deny_purge: true,
    allow_rollup_hdrs: false,
  }) as StreamConfig;

/**
 * The dead-letter stream: plain limits retention, oldest records dropped first. Nothing may purge
 * it; single records may be deleted, because the dead-letters tool deletes each record it has
 * replayed (services/writer/src/dead-letters), with a credential no service holds.
 */
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
    deny_delete: false,
    deny_purge: true,
    allow_rollup_hdrs: false,
  }) as StreamConfig;

/**
 * The gateway's audit stream: limits retention, oldest records dropped first, and neither a purge
 * nor a delete of single records is allowed, so a record once written stays until it ages out.
 */
export const auditStreamConfig = (env: AuditStreamEnv): StreamConfig =>
  ({
    name: AUDIT_STREAM,
    subjects: [AUDIT_SUBJECT],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(env.AUDIT_MAX_AGE),
    max_bytes: env.AUDIT_MAX_BYTES,
    max_msgs: -1,
    duplicate_window: nanos(120_000),
    num_replicas: 1,
    deny_delete: true,
    deny_purge: true,
    allow_rollup_hdrs: false,
  }) as StreamConfig;

/**
 * The live tail's stream: every event EVENTS stored, republished on `live.events`, kept by limits
 * (the oldest dropped first once `LIVE_MAX_MSGS` or `LIVE_MAX_BYTES` is reached) so that a client
 * can resume from its cursor, the stream sequence. Nothing may delete or purge it: a hole in it
 * would be a gap nobody is told of. The duplicate window is as short as the server allows in
 * practice: EVENTS (whose window is at least 1 s) already dropped repeated `Nats-Msg-Id`s, and the
 * copies keep the publisher's header, so a longer window here could only drop an event EVENTS
 * stored twice on purpose, outside its own window.
 */
export const liveStreamConfig = (env: LiveStreamEnv): StreamConfig =>
  ({
    name: LIVE_STREAM,
    subjects: [LIVE_SUBJECT],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: 0,
    max_bytes: env.LIVE_MAX_BYTES,
    max_msgs: env.LIVE_MAX_MSGS,
    duplicate_window: nanos(100),
    num_replicas: 1,
    deny_delete: true,
    deny_purge: true,
    allow_rollup_hdrs: false,
  }) as StreamConfig;

/**
 * Makes sure the live tail's stream exists, in the events' account; the writer owns it and creates
 * it before the events stream, so that the first event republished is kept.
 */
export const ensureLiveStream = (jsm: JetStreamManager, env: LiveStreamEnv, log: Logger): Promise<void> =>
  ensureStream(jsm, liveStreamConfig(env), log);

/** Checks, changing nothing, that the live tail's stream is what the contract says (the gateway, which reads it). */
export const checkLiveStream = (jsm: JetStreamManager, env: LiveStreamEnv): Promise<void> =>
  checkStream(jsm, liveStreamConfig(env));

/** Makes sure the audit stream exists; the gateway, which writes it, owns it. */
export const ensureAuditStream = (jsm: JetStreamManager, env: AuditStreamEnv, log: Logger): Promise<void> =>
  ensureStream(jsm, auditStreamConfig(env), log);

/**
 * Makes sure the events stream exists with the configuration of `env` (correcting what an update
 * can correct, refusing to run on what it cannot). Producers (the daemon) and the
 * writer both call it, so either may start first; the writer's durable consumer is the writer's
 * own (services/writer/src/consumer.ts): a work-queue stream keeps what is published before it
 * exists, and the consumer, created with `deliver: all`, then reads it from the first event on.
 */
export const ensureEventsStream = (jsm: JetStreamManager, env: EventsStreamEnv, log: Logger): Promise<void> =>
  ensureStream(jsm, eventsStreamConfig(env), log);

/** Checks, changing nothing, that the events stream is what the contract says (see {@link checkStream}). */
export const checkEventsStream = (jsm: JetStreamManager, env: EventsStreamEnv): Promise<void> =>
  checkStream(jsm, eventsStreamConfig(env));

/** Makes sure the dead-letter stream exists; the writer, which dead-letters, owns it. */
export const ensureDeadLetterStream = (jsm: JetStreamManager, env: DeadLetterStreamEnv, log: Logger): Promise<void> =>
  ensureStream(jsm, deadLetterStreamConfig(env), log);
