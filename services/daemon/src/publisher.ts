import { setMaxListeners } from "node:events";
import { setTimeout as delay } from "node:timers/promises";
import type { PubAck } from "@nats-io/jetstream";
import { type Deferred, deferred } from "@nats-io/nats-core";
import { backoffDelay, type ConfirmedPublish, type Logger, sleep } from "@vigil/runtime";
import { EVENTS_SUBJECT, encodeEvent } from "@vigil/shared";
import type { IdentifiedEvent } from "./event-generator.js";
import type { FailureReason } from "./publish-outage.js";
import { createPublishState, type PublishState } from "./publish-state.js";
import { createTokenBucket, type TokenBucket } from "./token-bucket.js";

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

export type { FailureReason } from "./publish-outage.js";
export { classifyFailure } from "./publish-outage.js";

/** What one running publisher's parts share. */
interface PublishRun extends PublisherDeps {
  readonly settings: PublisherSettings;
  readonly now: () => number;
  readonly state: PublishState;
  /** Resolved once `maxEvents` events are confirmed. */
  readonly completed: Deferred<void>;
  /** Aborted when the events still in flight are given up on. */
  readonly abandon: AbortSignal;
}

/** Publishes `event` until the stream confirms it, or until the run abandons it; then settles it. */
const publishUntilConfirmed = async (run: PublishRun, event: IdentifiedEvent): Promise<void> => {
  const { js, settings, state, now, abandon } = run;
  const startedAt = now();
  const payload = encodeEvent(event);
  const options = { msgID: event.id, timeout: settings.publishTimeoutMs };
  for (let attempt = 0; !abandon.aborted; attempt++) {
    try {
      const ack = await js.publish(EVENTS_SUBJECT, payload, options);
      const confirmed = state.confirmed(ack);
      run.latency?.observe((now() - startedAt) / 1000);
      run.onConfirmed?.(event, ack);
      if (confirmed === settings.maxEvents) run.completed.resolve();
      break;
    } catch (err) {
      state.failed(err);
      await sleep(backoffDelay(attempt, settings.retryInitialMs, settings.retryMaxMs), abandon);
    }
  }
  state.settled();
};

/** Generates and publishes events at the rate, within the in-flight bound, until `stopping` or `maxEvents`. */
const generate = async (run: PublishRun, stopping: AbortSignal): Promise<void> => {
  const { settings, state, now } = run;
  const bucket: TokenBucket | undefined =
    settings.ratePerSecond > 0 ? createTokenBucket(settings.ratePerSecond, settings.burstMs, now()) : undefined;
  const limit = settings.maxEvents ?? Number.POSITIVE_INFINITY;
  let published = 0;
  while (!stopping.aborted && published < limit) {
    if (state.full()) {
      await state.untilRoom();
      continue;
    }
    const waitMs = bucket?.take(now()) ?? 0;
    if (waitMs > 0) {
      await sleep(waitMs, stopping);
      continue;
    }
    const event = run.nextEvent();
    published = state.published();
    void publishUntilConfirmed(run, event);
  }
};

/** Resolves when `work` does, or after `ms`, whichever comes first. */
const waitAtMost = async (work: Promise<void>, ms: number): Promise<void> => {
  const waited = new AbortController();
  await Promise.race([work, delay(ms, undefined, { signal: waited.signal }).catch(() => {})]);
  waited.abort();
};

/** The publisher's stop sequence: stop generating, wait for confirmations, give up on the rest. */
const stopPublishing = async (
  { state, log }: Pick<PublishRun, "state" | "log">,
  controls: {
    readonly stopping: AbortController;
    readonly abandoning: AbortController;
    readonly generating: Promise<void>;
  },
  timeoutMs: number,
): Promise<PublisherStats> => {
  controls.stopping.abort();
  state.wake();
  await controls.generating;
  await waitAtMost(state.untilIdle(), timeoutMs);
  const { inFlight } = state.stats();
  if (inFlight > 0) {
    controls.abandoning.abort();
    log.warn(
      { unconfirmed: inFlight, timeoutMs },
      "gave up waiting for confirmations; those events may or may not be stored",
    );
  }
  const final = state.stats();
  log.info({ ...final }, "stopped publishing");
  return final;
};

/**
 * Publishes generated events on `events` through JetStream, each with its id as `Nats-Msg-Id`, so
 * that every event is confirmed stored and a retried publish is stored once. Paces to the rate,
 * keeps at most `maxInFlight` unconfirmed (waiting, not buffering, beyond that) and retries each
 * failed publish with back-off until it is confirmed.
 */
export const startPublisher = (deps: PublisherDeps, settings: PublisherSettings): Publisher => {
  const now = deps.now ?? (() => performance.now());
  const stopping = new AbortController();
  const abandoning = new AbortController();
  // Every event waiting to be retried listens on it: up to maxInFlight at once, which is no leak.
  setMaxListeners(settings.maxInFlight + 1, abandoning.signal);
  const state = createPublishState(settings.maxInFlight, deps.log, now);
  const completed = deferred<void>();
  // Callers that never await it must not see an unhandled rejection.
  completed.catch(() => {});
  const run: PublishRun = { ...deps, settings, now, state, completed, abandon: abandoning.signal };

  const generating = generate(run, stopping.signal).catch((err: unknown) => {
    deps.log.error({ err }, "event generation failed; publishing no further events");
    completed.reject(err);
  });

  let stopped: Promise<PublisherStats> | undefined;
  return {
    completed,
    stats: state.stats,
    stop: (timeoutMs) => {
      stopped ??= stopPublishing(run, { stopping, abandoning, generating }, timeoutMs);
      return stopped;
    },
  };
};
