import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiCodes,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { durationVar, intVar, isJetStreamError } from "@vigil/runtime";
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

/**
 * Creates the writers' durable consumer on the events stream (which must exist), or brings its
 * ack wait and in-flight bound in line with `settings`.
 */
export const ensureWriterConsumer = async (
  jsm: JetStreamManager,
  settings: WriterConsumerSettings,
  log: Logger,
): Promise<void> => {
  const wanted = writerConsumerConfig(settings);
  try {
    const info = await jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER);
    if (info.config.ack_wait !== wanted.ack_wait || info.config.max_ack_pending !== wanted.max_ack_pending) {
      await jsm.consumers.update(EVENTS_STREAM, WRITER_CONSUMER, {
        ack_wait: wanted.ack_wait,
        max_ack_pending: wanted.max_ack_pending,
      });
      log.info({ consumer: WRITER_CONSUMER }, "updated consumer settings");
    }
  } catch (err) {
    if (!isJetStreamError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    await jsm.consumers.add(EVENTS_STREAM, wanted);
    log.info({ consumer: WRITER_CONSUMER }, "created durable consumer");
  }
};
