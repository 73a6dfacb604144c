import { setMaxListeners } from "node:events";
import { JetStreamApiError, type PubAck } from "@nats-io/jetstream";
import { PermissionViolationError, TimeoutError } from "@nats-io/nats-core";
import { backoffDelay, type Logger, sleep } from "@vigil/runtime";
import { EVENTS_SUBJECT, encodeEvent } from "@vigil/shared";
import type { ConfirmedPublish } from "./confirmed-publish.js";
import type { IdentifiedEvent } from "./event-generator.js";
import { createTokenBucket, type TokenBucket } from "./token-bucket.js";

/** Why one publish attempt failed; every failed attempt is retried until confirmed. */
export type FailureReason = "stream_full" | "timeout" | "rejected" | "unavailable";

/** How the publisher paces, bounds and retries. */
export interface PublisherSettings {
  /** Events per second; 0 publishes as fast as confirmations allow. */
  readonly ratePerSecond: number;
  /** Most events published and not yet confirmed; at the bound the publisher waits. */
  readonly maxInFlight: number;
  /** Stop generating after this many events; unset runs until stopped. */
  readonly maxEvents?: number;
  /** How long to wait for one confirmation before retrying. */
  readonly publishTimeoutMs: number;
  /** First retry delay; it doubles per attempt (with jitter) up to `retryMaxMs`. */
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** How far behind schedule the pacing may catch up at once, in milliseconds of events. */
  readonly burstMs: number;
}

/** Records how long events took to be confirmed, such as a prom-client histogram. */
export interface LatencyObserver {
  observe(seconds: number): void;
}

/** What the publisher works with. */
export interface PublisherDeps {
  /** `createConfirmedPublish(nc)`, or `jetstream(nc)` itself: both confirm each publish. */
  readonly js: Pick<ConfirmedPublish, "publish">;
  readonly nextEvent: () => IdentifiedEvent;
  readonly log: Logger;
  /** Observes, in seconds, how long each event took from first attempt to confirmation. */
  readonly latency?: LatencyObserver;
  /** Called once per event, when the stream confirms it (also for a duplicate confirmation). */
  readonly onConfirmed?: (event: IdentifiedEvent, ack: PubAck) => void;
  /** Monotonic clock in milliseconds; defaults to `performance.now`. */
  readonly now?: () => number;
}

/** Counts since the publisher started. */
export interface PublisherStats {
  /** Events generated and handed to JetStream. */
  readonly published: number;
  /** Events the stream confirmed as stored, each counted once. */
  readonly confirmed: number;
  /** Confirmations that the stream flagged as a duplicate of an earlier, unconfirmed attempt. */
  readonly duplicates: number;
  /** Failed publish attempts, by reason. */
  readonly failures: Readonly<Record<FailureReason, number>>;
  /** Events published and not yet confirmed. */
  readonly inFlight: number;
  /** True while the stream refuses publishes because it is full. */
  readonly streamFull: boolean;
}

/** A running publisher. */
export interface Publisher {
  /** Resolves once `maxEvents` events are confirmed (never without `maxEvents`); rejects if generation fails. */
  readonly completed: Promise<void>;
  stats(): PublisherStats;
  /**
   * Stops generating, then waits up to `timeoutMs` for the events in flight to be confirmed;
   * events still unconfirmed then are given up (and stop being retried).
   */
  stop(timeoutMs: number): Promise<PublisherStats>;
}

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
 * Publishes generated events on `events` through JetStream, each with its id as `Nats-Msg-Id`, so
 * that every event is confirmed stored and a retried publish is stored once. Paces to the rate,
 * keeps at most `maxInFlight` unconfirmed (waiting, not buffering, beyond that) and retries each
 * failed publish with back-off until it is confirmed.
 */
export const startPublisher = (deps: PublisherDeps, settings: PublisherSettings): Publisher => {
  const { js, nextEvent, log, latency, onConfirmed } = deps;
  const now = deps.now ?? (() => performance.now());
  const bucket: TokenBucket | undefined =
    settings.ratePerSecond > 0 ? createTokenBucket(settings.ratePerSecond, settings.burstMs, now()) : undefined;
  const stopping = new AbortController();
  const abandoning = new AbortController();
  // Every event waiting to be retried listens on it: up to maxInFlight at once, which is no leak.
  setMaxListeners(settings.maxInFlight + 1, abandoning.signal);

  let published = 0;
  let confirmed = 0;
  let duplicates = 0;
  let inFlight = 0;
  const failures: Record<FailureReason, number> = { stream_full: 0, timeout: 0, rejected: 0, unavailable: 0 };
  let streamFull = false;
  let failingSince: number | undefined;
  let failedSinceHealthy = 0;
  let wakeGenerator: (() => void) | undefined;
  const resumeAt = settings.maxInFlight - Math.max(1, Math.floor(settings.maxInFlight / 8));
  let whenIdle: (() => void) | undefined;
  let resolveCompleted: () => void = () => {};
  let rejectCompleted: (err: unknown) => void = () => {};
  const completed = new Promise<void>((resolve, reject) => {
    resolveCompleted = resolve;
    rejectCompleted = reject;
  });
  // Callers that never await it must not see an unhandled rejection.
  completed.catch(() => {});

  const stats = (): PublisherStats => ({
    published,
    confirmed,
    duplicates,
    failures: { ...failures },
    inFlight,
    streamFull,
  });

  const onFailure = (err: unknown) => {
    const reason = classifyFailure(err);
    failures[reason]++;
    const becameFull = reason === "stream_full" && !streamFull;
    if (reason === "stream_full") streamFull = true;
    if (becameFull) {
      log.warn({ err, inFlight }, "the events stream is full; holding events and retrying until it has room");
    } else if (failingSince === undefined) {
      log.warn({ err, reason, inFlight }, "publishes are failing; retrying each event until it is confirmed");
    }
    if (failingSince === undefined) {
      failingSince = now();
      failedSinceHealthy = 0;
    }
    failedSinceHealthy++;
  };

  const onSuccess = () => {
    if (failingSince === undefined) return;
    log.info(
      { failedAttempts: failedSinceHealthy, failingMs: Math.round(now() - failingSince) },
      "publishes are confirmed again",
    );
    failingSince = undefined;
    streamFull = false;
  };

  const settle = () => {
    inFlight--;
    if (wakeGenerator !== undefined && inFlight <= resumeAt) {
      const wake = wakeGenerator;
      wakeGenerator = undefined;
      wake();
    }
    if (inFlight === 0) whenIdle?.();
  };

  const publishUntilConfirmed = async (event: IdentifiedEvent): Promise<void> => {
    const startedAt = now();
    const payload = encodeEvent(event);
    const options = { msgID: event.id, timeout: settings.publishTimeoutMs };
    for (let attempt = 0; !abandoning.signal.aborted; attempt++) {
      try {
        const ack = await js.publish(EVENTS_SUBJECT, payload, options);
        confirmed++;
        if (ack.duplicate) duplicates++;
        onSuccess();
        latency?.observe((now() - startedAt) / 1000);
        onConfirmed?.(event, ack);
        if (confirmed === settings.maxEvents) resolveCompleted();
        break;
      } catch (err) {
        onFailure(err);
        await sleep(backoffDelay(attempt, settings.retryInitialMs, settings.retryMaxMs), abandoning.signal);
      }
    }
    settle();
  };

  const generate = async () => {
    const limit = settings.maxEvents ?? Number.POSITIVE_INFINITY;
    while (!stopping.signal.aborted && published < limit) {
      if (inFlight >= settings.maxInFlight) {
        await new Promise<void>((resolve) => {
          wakeGenerator = resolve;
        });
        continue;
      }
      if (bucket !== undefined) {
        const waitMs = bucket.take(now());
        if (waitMs > 0) {
          await sleep(waitMs, stopping.signal);
          continue;
        }
      }
      const event = nextEvent();
      published++;
      inFlight++;
      void publishUntilConfirmed(event);
    }
  };

  const generating = generate().catch((err: unknown) => {
    log.error({ err }, "event generation failed; publishing no further events");
    rejectCompleted(err);
  });

  let stopped: Promise<PublisherStats> | undefined;
  const stop = async (timeoutMs: number): Promise<PublisherStats> => {
    stopping.abort();
    wakeGenerator?.();
    await generating;
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        whenIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (inFlight > 0) {
      abandoning.abort();
      log.warn(
        { unconfirmed: inFlight, timeoutMs },
        "gave up waiting for confirmations; those events may or may not be stored",
      );
    }
    const final = stats();
    log.info({ ...final }, "stopped publishing");
    return final;
  };

  return {
    completed,
    stats,
    stop: (timeoutMs) => {
      stopped ??= stop(timeoutMs);
      return stopped;
    },
  };
};
