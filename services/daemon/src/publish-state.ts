import type { PubAck } from "@nats-io/jetstream";
import type { Logger } from "@vigil/runtime";
import { createInFlight } from "./in-flight.js";
import { createPublishOutage } from "./publish-outage.js";
import type { PublisherStats } from "./publisher.js";

/**
 * What the publisher counts and waits on: events in flight (bounded by `maxInFlight`, see
 * `createInFlight`), the counters of {@link PublisherStats}, and whether publishes are failing
 * (see `createPublishOutage`).
 */
export const createPublishState = (maxInFlight: number, log: Logger, now: () => number) => {
  const counts = { published: 0, confirmed: 0, duplicates: 0 };
  const inFlight = createInFlight(maxInFlight);
  const outage = createPublishOutage(log, now);

  return {
    stats: (): PublisherStats => ({
      ...counts,
      failures: outage.failures(),
      inFlight: inFlight.count(),
      streamFull: outage.streamFull(),
    }),
    full: inFlight.full,
    /** Resolves once enough events in flight are settled to publish again, or on {@link wake}. */
    untilRoom: inFlight.untilRoom,
    wake: inFlight.wake,
    /** Resolves once nothing is in flight. */
    untilIdle: inFlight.untilIdle,
    /** Counts an event handed to JetStream; returns how many are published so far. */
    published(): number {
      inFlight.add();
      return ++counts.published;
    },
    /** Counts a confirmation; returns how many events are confirmed so far. */
    confirmed(ack: PubAck): number {
      counts.confirmed++;
      if (ack.duplicate) counts.duplicates++;
      outage.confirmed();
      return counts.confirmed;
    },
    failed: (err: unknown): void => outage.failed(err, inFlight.count()),
    /** One event in flight is done with: confirmed, or given up on. */
    settled: inFlight.settle,
  };
};

export type PublishState = ReturnType<typeof createPublishState>;
