import { encodePoints, type InfluxClient, type InfluxHealth, InfluxRejectedError } from "@vigil/influx";
import { backoffDelay, sleep } from "@vigil/runtime";
import type { Logger } from "pino";
import { type DeadLetterPublisher, STORAGE_REJECTED } from "./dead-letter.js";
import type { WriterMetrics } from "./metrics.js";
import { ackAll, handBackAll, type PendingEvent } from "./pending-event.js";

/** What the writer says when InfluxDB goes away and comes back (see `createInfluxHealth`). */
export const INFLUX_OUTAGE_MESSAGES = {
  down: "InfluxDB is unavailable; holding batches unacknowledged and retrying",
  back: "InfluxDB is reachable again; writing held batches",
} as const;

/** Back-off between attempts at a write InfluxDB could not take. */
export interface RetryPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface BatchStoreDeps {
  readonly influx: Pick<InfluxClient, "write">;
  readonly deadLetters: DeadLetterPublisher;
  readonly metrics: Pick<WriterMetrics, "written" | "batchSize" | "writeDuration" | "writeFailures">;
  readonly health: InfluxHealth;
  readonly log: Logger;
}

/** How one write of a batch ended, after any retries. */
export type WriteOutcome =
  | { readonly kind: "written" }
  | { readonly kind: "rejected"; readonly error: InfluxRejectedError }
  | { readonly kind: "abandoned" };

const WRITTEN: WriteOutcome = { kind: "written" };
const ABANDONED: WriteOutcome = { kind: "abandoned" };

/**
 * Returns the function that writes `items` in one request until InfluxDB answers: confirmed
 * ("written") or refused ("rejected"). While InfluxDB is unavailable it retries with back-off,
 * until `giveUp` aborts ("abandoned"). Settles no message.
 */
export const createBatchWrite =
  (
    { influx, metrics, health }: Pick<BatchStoreDeps, "influx" | "metrics" | "health">,
    retry: RetryPolicy,
    giveUp: AbortSignal,
  ) =>
  async (items: readonly PendingEvent[]): Promise<WriteOutcome> => {
    const lines = encodePoints(items);
    for (let attempt = 0; !giveUp.aborted; attempt++) {
      const started = performance.now();
      try {
        await influx.write(lines);
        metrics.writeDuration.observe((performance.now() - started) / 1_000);
        health.succeeded();
        return WRITTEN;
      } catch (err) {
        if (err instanceof InfluxRejectedError) {
          metrics.writeFailures.inc({ reason: "rejected" });
          health.succeeded();
          return { kind: "rejected", error: err };
        }
        metrics.writeFailures.inc({ reason: "unavailable" });
        health.failed(err);
        await sleep(backoffDelay(attempt, retry.initialMs, retry.maxMs), giveUp);
      }
    }
    return ABANDONED;
  };

/**
 * Returns the function that stores one batch and settles every message in it:
 *
 * - written: InfluxDB confirmed the write, so the messages are acknowledged;
 * - InfluxDB unavailable: the same batch is retried with back-off, unacknowledged, for as long as
 *   it takes (the caller keeps the messages alive meanwhile);
 * - InfluxDB rejected the batch (HTTP 400, e.g. a field type conflict): the batch is bisected
 *   until the points refused on their own are isolated; those are dead-lettered as
 *   STORAGE_REJECTED with InfluxDB's reason, the rest are written and acknowledged;
 * - `giveUp` aborted (the shutdown deadline passed): what is not written yet is handed back.
 *
 * The returned function never rejects.
 */
export const createBatchStore = (
  deps: BatchStoreDeps,
  retry: RetryPolicy,
  giveUp: AbortSignal,
): ((batch: readonly PendingEvent[]) => Promise<void>) => {
  const { metrics, log } = deps;
  const write = createBatchWrite(deps, retry, giveUp);

  const store = async (items: readonly PendingEvent[]): Promise<void> => {
    const outcome = await write(items);
    if (outcome.kind === "written") {
      ackAll(items);
      metrics.written.inc(items.length);
    } else if (outcome.kind === "abandoned") {
      handBackAll(items);
      log.debug({ size: items.length }, "handed back events not written before the shutdown deadline");
    } else {
      await settleRejected(items, outcome.error, store, deps);
    }
  };

  return async (batch) => {
    metrics.batchSize.observe(batch.length);
    try {
      await store(batch);
    } catch (err) {
      // Not expected: every outcome above is handled. The messages stay unacknowledged and come back.
      log.error({ err, size: batch.length }, "unexpected failure storing a batch; its events will be redelivered");
    }
  };
};

/** Dead-letters a rejected single event with InfluxDB's reason, or stores each half of a larger batch. */
const settleRejected = async (
  items: readonly PendingEvent[],
  error: InfluxRejectedError,
  store: (items: readonly PendingEvent[]) => Promise<void>,
  { deadLetters, log }: Pick<BatchStoreDeps, "deadLetters" | "log">,
): Promise<void> => {
  const [only] = items;
  if (items.length === 1 && only !== undefined) {
    await deadLetters.publish(only.msg, STORAGE_REJECTED, error.message, only.event.id);
    return;
  }
  log.debug({ size: items.length, err: error }, "InfluxDB rejected a batch; bisecting it");
  // One half at a time keeps the load on InfluxDB what it was before the rejection.
  const middle = Math.ceil(items.length / 2);
  await store(items.slice(0, middle));
  await store(items.slice(middle));
};
