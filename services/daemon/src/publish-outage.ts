import { JetStreamApiError } from "@nats-io/jetstream";
import { PermissionViolationError, TimeoutError } from "@nats-io/nats-core";
import type { Logger } from "@vigil/runtime";

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
 * Failed publish attempts: counted by reason, and logged once when publishes start failing (once
 * more when the stream becomes full) and once when a publish is confirmed again.
 */
export interface PublishOutage {
  /** Failed attempts so far, by reason (a copy). */
  failures(): Record<FailureReason, number>;
  /** True while the stream refuses publishes because it is full. */
  streamFull(): boolean;
  /** Counts a failed attempt; `inFlight` goes into the log line. */
  failed(err: unknown, inFlight: number): void;
  /** A publish was confirmed: ends the outage, if there is one. */
  confirmed(): void;
}

export const createPublishOutage = (log: Logger, now: () => number): PublishOutage => {
  const failures: Record<FailureReason, number> = { stream_full: 0, timeout: 0, rejected: 0, unavailable: 0 };
  let streamFull = false;
  let since: number | undefined;
  let attempts = 0;

  return {
    failures: () => ({ ...failures }),
    streamFull: () => streamFull,
    failed(err, inFlight) {
      const reason = classifyFailure(err);
      failures[reason]++;
      if (reason === "stream_full" && !streamFull) {
        streamFull = true;
        log.warn({ err, inFlight }, "the events stream is full; holding events and retrying until it has room");
      } else if (since === undefined) {
        log.warn({ err, reason, inFlight }, "publishes are failing; retrying each event until it is confirmed");
      }
      if (since === undefined) {
        since = now();
        attempts = 0;
      }
      attempts++;
    },
    confirmed() {
      if (since === undefined) return;
      log.info({ failedAttempts: attempts, failingMs: Math.round(now() - since) }, "publishes are confirmed again");
      since = undefined;
      streamFull = false;
    },
  };
};
