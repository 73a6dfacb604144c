import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiCodes,
  type JetStreamManager,
  ReplayPolicy,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import {
  CREATE_TOPOLOGY_FIRST,
  type Drift,
  describeDrift,
  durationVar,
  intVar,
  isJetStreamError,
  StartupError,
} from "@vigil/runtime";
import { EVENTS_STREAM, EVENTS_SUBJECT, WRITER_CONSUMER } from "@vigil/shared";
import type { Logger } from "pino";
import { z } from "zod";

/**
 * Settings of the writers' durable consumer. Only the writer reads them and only the writer creates
 * or corrects the consumer, so two services can never rewrite it back and forth.
 */
export const WriterConsumerEnv = z.object({
  /** Most events handed to writers and not yet acknowledged, across all writers: bounds their memory. */
  WRITER_MAX_IN_FLIGHT: intVar(20_000, 1, 1_000_000),
  /** How long a writer may hold an event unacknowledged before it is redelivered. */
  WRITER_ACK_WAIT: durationVar("30s", 1_000, 3_600_000),
});
export type WriterConsumerEnv = z.infer<typeof WriterConsumerEnv>;

/** Settings of the writers' durable consumer. */
export interface WriterConsumerSettings {
  /** Most messages handed out and not yet acknowledged, across all writers. */
  readonly maxAckPending: number;
  /** How long a delivered message may stay unacknowledged before it is redelivered. */
  readonly ackWaitMs: number;
}

/** The consumer settings that {@link WriterConsumerEnv} describes. */
export const writerConsumerSettings = (env: WriterConsumerEnv): WriterConsumerSettings => ({
  maxAckPending: env.WRITER_MAX_IN_FLIGHT,
  ackWaitMs: env.WRITER_ACK_WAIT,
});

/** The durable consumer every writer pulls from. */
export const writerConsumerConfig = (settings: WriterConsumerSettings) =>
  ({
    durable_name: WRITER_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    // Events published before the consumer existed (a producer started first) are read too.
    deliver_policy: DeliverPolicy.All,
    filter_subject: EVENTS_SUBJECT,
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: settings.maxAckPending,
    // Never give up on an event: storage outages are retried until they end.
    max_deliver: -1,
  }) satisfies Partial<ConsumerConfig>;

type Rule = readonly [field: keyof ConsumerConfig, matches: (found: unknown) => boolean, wanted: unknown];

const isUnset = (value: unknown): boolean =>
  value === undefined || value === null || value === "" || value === 0 || (Array.isArray(value) && value.length === 0);

/**
 * Every field of the writers' consumer on which "every event reaches InfluxDB" rests: what it
 * delivers (all of `events`, whole messages, from the first), how it is acknowledged and
 * redelivered (explicitly, for ever), and that it is a pull consumer nobody paused, throttled,
 * pinned to one client or set to vanish when idle.
 */
const consumerRules = (wanted: ReturnType<typeof writerConsumerConfig>): readonly Rule[] => [
  ["ack_policy", (found) => found === wanted.ack_policy, wanted.ack_policy],
  ["deliver_policy", (found) => found === wanted.deliver_policy, wanted.deliver_policy],
  [
    "filter_subject",
    (found) => found === wanted.filter_subject || (isUnset(found) && wanted.filter_subject === EVENTS_SUBJECT),
    wanted.filter_subject,
  ],
  ["filter_subjects", (found) => isUnset(found), undefined],
  ["max_deliver", (found) => found === wanted.max_deliver, wanted.max_deliver],
  ["ack_wait", (found) => found === wanted.ack_wait, wanted.ack_wait],
  ["max_ack_pending", (found) => found === wanted.max_ack_pending, wanted.max_ack_pending],
  ["headers_only", (found) => found !== true, false],
  ["backoff", isUnset, undefined],
  ["deliver_subject", isUnset, undefined],
  ["deliver_group", isUnset, undefined],
  ["inactive_threshold", isUnset, undefined],
  ["rate_limit_bps", isUnset, undefined],
  ["replay_policy", (found) => found === undefined || found === ReplayPolicy.Instant, ReplayPolicy.Instant],
  ["pause_until", (found) => isUnset(found) || Date.parse(String(found)) <= Date.now(), undefined],
  ["priority_policy", (found) => isUnset(found) || found === "none", undefined],
  ["priority_groups", isUnset, undefined],
  ["mem_storage", (found) => found !== true, false],
];

/** How the consumer `found` differs from the one `settings` describe; empty when it is what Vigil needs. */
export const consumerDrift = (found: ConsumerConfig, settings: WriterConsumerSettings): Drift[] =>
  consumerRules(writerConsumerConfig(settings))
    .filter(([field, matches]) => !matches(found[field]))
    .map(([field, , wanted]) => ({ field, found: found[field], wanted, fixable: true }));

const tamperedConsumerError = (drift: readonly Drift[], cause?: unknown): StartupError =>
  new StartupError(
    `consumer ${WRITER_CONSUMER} on ${EVENTS_STREAM} is not what Vigil needs, refusing to run on it: ` +
      `${describeDrift(drift)}. Delete it (nats consumer rm ${EVENTS_STREAM} ${WRITER_CONSUMER}; the work queue ` +
      "keeps every unacknowledged event) and start the writer again, which creates it afresh",
    cause === undefined ? undefined : { cause },
  );

/**
 * Creates the writers' durable consumer on the events stream (which must exist), or brings its
 * ack wait and in-flight bound in line with `settings`; refuses to run on a consumer that differs
 * from the contract in anything else (an update cannot be trusted to change delivery semantics
 * of a consumer that has already acknowledged messages under other ones).
 */
export const ensureWriterConsumer = async (
  jsm: JetStreamManager,
  settings: WriterConsumerSettings,
  log: Logger,
): Promise<void> => {
  const wanted = writerConsumerConfig(settings);
  let found: ConsumerConfig;
  try {
    found = (await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).config;
  } catch (err) {
    if (!isJetStreamError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    await jsm.consumers.add(EVENTS_STREAM, wanted);
    log.info({ consumer: WRITER_CONSUMER }, "created durable consumer");
    return;
  }
  const drift = consumerDrift(found, settings);
  if (drift.length === 0) return;
  const limitsOnly = drift.every((d) => d.field === "ack_wait" || d.field === "max_ack_pending");
  if (!limitsOnly) throw tamperedConsumerError(drift);
  const updated = await jsm.consumers.update(EVENTS_STREAM, WRITER_CONSUMER, {
    ack_wait: wanted.ack_wait,
    max_ack_pending: wanted.max_ack_pending,
  });
  const left = consumerDrift(updated.config, settings);
  if (left.length > 0) throw tamperedConsumerError(left);
  log.info({ consumer: WRITER_CONSUMER }, "updated consumer settings");
};

/**
 * Checks, changing nothing, that the writers' consumer exists and is what the contract says in
 * every field that matters, ack wait and in-flight bound included.
 */
export const checkWriterConsumer = async (jsm: JetStreamManager, settings: WriterConsumerSettings): Promise<void> => {
  let found: ConsumerConfig;
  try {
    found = (await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)).config;
  } catch (err) {
    if (!isJetStreamError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    throw new StartupError(`consumer ${WRITER_CONSUMER} does not exist: ${CREATE_TOPOLOGY_FIRST}`, {
      cause: err,
    });
  }
  const drift = consumerDrift(found, settings);
  if (drift.length > 0) throw tamperedConsumerError(drift);
};
