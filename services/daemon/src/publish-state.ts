import { JetStreamApiError, type PubAck } from "@nats-io/jetstream";
import { type Deferred, deferred, PermissionViolationError, TimeoutError } from "@nats-io/nats-core";
import type { Logger } from "@vigil/runtime";
import type { PublisherStats } from "./publisher.js";

/** Why one publish attempt failed; every failed attempt is retried until confirmed. */
export type FailureReason = "stream_full" | "timeout" | "rejected" | "unavailable";

// nats-server answers "maximum messages exceeded" / "maximum bytes exceeded" when a stream with
// `discard: new` is full; the JetStream error code alone also covers other storage failures.
const STREAM_FULL = /maximum (messages|bytes)/i;

/** Sorts a failed publish into a {@link FailureReason}. */
export const classifyFailure = (err: unknown): FailureReason => {
  if (err instanceof JetStreamApiError) return STREAM_FULL.test(err.message) ? "stream_full" : "rejected";
  if (err instanceof PermissionViolationError) return "rejected";
  if (err instanceof TimeoutError) return "timeout";
  return "unavailable";
};

/**
 * What the publisher counts and waits on: events in flight (bounded by `maxInFlight`, with the
 * generator resumed once an eighth of them are confirmed), the counters of {@link PublisherStats},
 * and whether publishes are failing, logged once when an outage starts and once when it ends.
 */
export const createPublishState = (maxInFlight: number, log: Logger, now: () => number) => {
  const counts = { published: 0, confirmed: 0, duplicates: 0, inFlight: 0, streamFull: false };
  const failures: Record<FailureReason, number> = { stream_full: 0, timeout: 0, rejected: 0, unavailable: 0 };
  const outage = { since: undefined as number | undefined, attempts: 0 };
  const resumeAt = maxInFlight - Math.max(1, Math.floor(maxInFlight / 8));
  let room: Deferred<void> | undefined;
  let idle: Deferred<void> | undefined;

  return {
    stats: (): PublisherStats => ({ ...counts, failures: { ...failures } }),
    full: (): boolean => counts.inFlight >= maxInFlight,
    /** Resolves once enough events in flight are settled to publish again, or on {@link wake}. */
    untilRoom: (): Promise<void> => {
      room = deferred<void>();
      return room;
    },
    wake: (): void => room?.resolve(),
    /** Resolves once nothing is in flight. */
    untilIdle: (): Promise<void> => {
      if (counts.inFlight === 0) return Promise.resolve();
      idle ??= deferred<void>();
      return idle;
    },
    /** Counts an event handed to JetStream; returns how many are published so far. */
    published(): number {
      counts.inFlight++;
      return ++counts.published;
    },
    /** Counts a confirmation; returns how many events are confirmed so far. */
    confirmed(ack: PubAck): number {
      counts.confirmed++;
      if (ack.duplicate) counts.duplicates++;
      if (outage.since !== undefined) {
        log.info(
          { failedAttempts: outage.attempts, failingMs: Math.round(now() - outage.since) },
          "publishes are confirmed again",
        );
        outage.since = undefined;
        counts.streamFull = false;
      }
      return counts.confirmed;
    },
    failed(err: unknown): void {
      const reason = classifyFailure(err);
      failures[reason]++;
      const { inFlight } = counts;
      if (reason === "stream_full" && !counts.streamFull) {
        counts.streamFull = true;
        log.warn({ err, inFlight }, "the events stream is full; holding events and retrying until it has room");
      } else if (outage.since === undefined) {
        log.warn({ err, reason, inFlight }, "publishes are failing; retrying each event until it is confirmed");
      }
      if (outage.since === undefined) {
        outage.since = now();
        outage.attempts = 0;
      }
      outage.attempts++;
    },
    /** One event in flight is done with: confirmed, or given up on. */
    settled(): void {
      counts.inFlight--;
      if (room !== undefined && counts.inFlight <= resumeAt) {
        room.resolve();
        room = undefined;
      }
      if (counts.inFlight === 0) idle?.resolve();
    },
  };
};

export type PublishState = ReturnType<typeof createPublishState>;
