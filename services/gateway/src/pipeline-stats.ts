import { JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import { DEAD_LETTER_STREAM, EVENTS_STREAM, WRITER_CONSUMER } from "@vigil/shared";
import { z } from "zod";
import { ApiError } from "./errors.js";

/** `GET /v1/stats`: the pipeline's figures, read from JetStream (see README, "Stats"). */
export const StatsReply = z.object({
  /** When the figures were read, ISO 8601. */
  at: z.iso.datetime(),
  /** Events JetStream accepted on `events` since the stream was created (its last sequence). */
  received: z.int().nonnegative(),
  /** Events the writers took out of the stream into InfluxDB: received − backlog − dead-lettered. */
  stored: z.int().nonnegative(),
  /** Dead-letter records written since the dead-letter stream was created (its last sequence). */
  deadLettered: z.int().nonnegative(),
  /** Events not yet stored: waiting for a writer plus delivered and not yet acknowledged. */
  backlog: z.int().nonnegative(),
  /** Of the backlog, those delivered to a writer and not yet acknowledged. */
  inFlight: z.int().nonnegative(),
  /** Pull requests the writers have waiting on the `writer` consumer: about one per idle writer. */
  activeWriters: z.int().nonnegative(),
  /** Events received per second since an earlier reading 1 s or more old (see README); null until there is one. */
  eventsPerSecond: z.number().nonnegative().nullable(),
  /** Seconds since this gateway started. */
  uptimeSeconds: z.number().nonnegative(),
});
export type StatsReply = z.infer<typeof StatsReply>;

/** One reading of the JetStream figures. */
export interface PipelineReading {
  readonly received: number;
  readonly inStream: number;
  readonly deadLettered: number;
  readonly pending: number;
  readonly inFlight: number;
  readonly waitingPulls: number;
}

/** JetStream API error code for "stream not found" and "consumer not found". */
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

const unless = async <T>(code: number, read: () => Promise<T>): Promise<T | undefined> => {
  try {
    return await read();
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === code) return undefined;
    throw err;
  }
};

/**
 * Reads the figures with three JetStream API requests, all read-only: `STREAM.INFO.EVENTS`,
 * `STREAM.INFO.DEADLETTERS` and `CONSUMER.INFO.EVENTS.writer`. A missing dead-letter stream or
 * writer consumer (nothing has been written yet) reads as zeros; a missing events stream throws.
 */
export const readPipeline = async (jsm: JetStreamManager): Promise<PipelineReading> => {
  const [events, deadLetters, writer] = await Promise.all([
    jsm.streams.info(EVENTS_STREAM),
    unless(STREAM_NOT_FOUND, () => jsm.streams.info(DEAD_LETTER_STREAM)),
    unless(CONSUMER_NOT_FOUND, () => jsm.consumers.info(EVENTS_STREAM, WRITER_CONSUMER)),
  ]);
  return {
    received: events.state.last_seq,
    inStream: events.state.messages,
    deadLettered: deadLetters?.state.last_seq ?? 0,
    pending: writer?.num_pending ?? events.state.messages,
    inFlight: writer?.num_ack_pending ?? 0,
    waitingPulls: writer?.num_waiting ?? 0,
  };
};

/** Answers `GET /v1/stats`; remembers earlier readings for the rate. */
export interface PipelineStats {
  read(): Promise<StatsReply>;
}

/** What {@link createPipelineStats} runs on. */
export interface PipelineStatsDeps {
  readonly read: () => Promise<PipelineReading>;
  readonly connected: () => boolean;
  /** Milliseconds since the epoch; the gateway's start is taken from the first call. */
  readonly now?: () => number;
}

/** Shortest time between the two readings a rate is computed from. */
const MIN_RATE_WINDOW_MS = 1_000;

export const createPipelineStats = (deps: PipelineStatsDeps): PipelineStats => {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  // The rate is taken against an anchor reading at least a second old, so that two calls a few
  // milliseconds apart do not divide by almost nothing; the next anchor is the first reading after it.
  let anchor: { at: number; received: number } | undefined;
  let candidate: { at: number; received: number } | undefined;
  return {
    async read() {
      if (!deps.connected()) {
        throw new ApiError("UNAVAILABLE", "NATS is not reachable; retry later", { retryAfterSeconds: 2 });
      }
      let reading: PipelineReading;
      try {
        reading = await deps.read();
      } catch (cause) {
        throw new ApiError("UNAVAILABLE", "JetStream did not tell the pipeline's figures; retry later", {
          retryAfterSeconds: 2,
          cause,
        });
      }
      const at = now();
      const current = { at, received: reading.received };
      if (candidate === undefined) candidate = current;
      else if (at - candidate.at >= MIN_RATE_WINDOW_MS) [anchor, candidate] = [candidate, current];
      const eventsPerSecond =
        anchor === undefined || reading.received < anchor.received
          ? null
          : (reading.received - anchor.received) / ((at - anchor.at) / 1_000);
      const backlog = reading.pending + reading.inFlight;
      return {
        at: new Date(at).toISOString(),
        received: reading.received,
        stored: Math.max(0, reading.received - reading.inStream - reading.deadLettered),
        deadLettered: reading.deadLettered,
        backlog,
        inFlight: reading.inFlight,
        activeWriters: reading.waitingPulls,
        eventsPerSecond,
        uptimeSeconds: (at - startedAt) / 1_000,
      };
    },
  };
};
