/**
 * The live-tail benchmark's publisher: a process of its own (forked by bench/live.ts) that
 * publishes probe events to `events` on a fixed schedule with JetStream's confirmation, as the
 * daemon does, each stamped with the moment it was handed to the client (see `stampedMessage`).
 */
import { setTimeout as wait } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { createConfirmedPublish } from "@vigil/runtime";
import { EVENTS_SUBJECT, encodeEvent } from "@vigil/shared";
import { serveJobs } from "./child-jobs.js";
import { syntheticEvent } from "./fixtures.js";
import { createMonotonicClock, stampedMessage } from "./live-check.js";
import { arrivalSchedule, type LatencyFigures, latencyFigures } from "./open-loop.js";

/** Publishes `rate` events a second for `seconds`, criticality `i % 11` for the `i`th. */
export interface PublishJob {
  readonly kind: "publish";
  readonly natsUrl: string;
  readonly rate: number;
  readonly seconds: number;
}

/** What the publisher did. */
export interface PublishResult {
  readonly published: number;
  /** Publishes JetStream did not confirm (should be 0). */
  readonly failed: number;
  /** From the stamp (just before the publish) to JetStream's confirmation. */
  readonly confirm: LatencyFigures;
  /** How late publishes left after they were due. */
  readonly sendLag: LatencyFigures;
  readonly publishedPerSecond: number;
  /** The first and the last probe's stamps (the machine's monotonic clock, as `stampedMessage`). */
  readonly firstStamp: number;
  readonly lastStamp: number;
}

const now = createMonotonicClock();

const publishOnSchedule = async (job: PublishJob): Promise<PublishResult> => {
  const nc = await connect({ servers: job.natsUrl });
  const publisher = createConfirmedPublish(nc);
  try {
    const schedule = arrivalSchedule(job.rate, job.seconds);
    const confirms = new Float64Array(schedule.total);
    const stamps = new Float64Array(schedule.total);
    const lags = new Float64Array(schedule.total);
    let failed = 0;
    const confirmed: Promise<void>[] = [];
    const start = now();
    let next = 0;
    while (next < schedule.total) {
      for (const due = schedule.dueBy(now() - start); next < due; next++) {
        const index = next;
        const event = syntheticEvent(index);
        const stamp = now();
        stamps[index] = stamp;
        lags[index] = stamp - (start + schedule.dueAt(index));
        const payload = encodeEvent({ ...event, eventMessage: stampedMessage(stamp) });
        confirmed.push(
          publisher.publish(EVENTS_SUBJECT, payload, { msgID: event.id as string, timeout: 10_000 }).then(
            () => {
              confirms[index] = now() - stamp;
            },
            () => {
              confirms[index] = now() - stamp;
              failed++;
            },
          ),
        );
      }
      if (next < schedule.total) await wait(Math.max(0, start + schedule.dueAt(next) - now()));
    }
    await Promise.all(confirmed);
    const elapsedMs = now() - start;
    return {
      published: schedule.total,
      failed,
      confirm: latencyFigures(Array.from(confirms)),
      sendLag: latencyFigures(Array.from(lags)),
      publishedPerSecond: schedule.total / (elapsedMs / 1_000),
      firstStamp: stamps[0] ?? Number.NaN,
      lastStamp: stamps.at(-1) ?? Number.NaN,
    };
  } finally {
    publisher.close();
    await nc.close();
  }
};

serveJobs<PublishJob>(publishOnSchedule);
