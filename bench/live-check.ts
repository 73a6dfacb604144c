/**
 * The live-tail benchmark's bookkeeping, kept apart from sockets so it can be tested: how a probe
 * event carries its publication time, how a client reads an event frame without parsing all of
 * it, what each client received (a digest of its cursors, in order), what it should have received
 * (the same digest over the stream's messages), and a latency histogram that thousands of clients
 * can share without keeping every sample.
 */
import type { LatencyFigures } from "./open-loop.js";

/** What goes before a probe event's publication time in its `eventMessage`. */
const STAMP = "published=";

/**
 * The `eventMessage` of a probe event: its publication time, in milliseconds on the machine's
 * monotonic clock (see {@link monotonicNow}), with microseconds.
 */
export const stampedMessage = (publishedAt: number): string => `live-tail probe ${STAMP}${publishedAt.toFixed(3)}`;

/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC, which `performance.now()` counts
 * from this process's start): the same clock in every process on the machine, so a time stamped by
 * the publisher compares with one read by a client process.
 */
export const createMonotonicClock = (): (() => number) => {
  const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  return () => performance.now() + offset;
};

/** The parts of an event frame a client checks. */
export interface EventFrameFields {
  readonly cursor: number;
  readonly criticality: number;
  /** The probe's publication time, or NaN when the event carries none. */
  readonly publishedAt: number;
}

const EVENT_FRAME = Buffer.from('{"type":"event"');
const CURSOR = Buffer.from('"cursor":');
const CRITICALITY = Buffer.from('"criticality":');
const STAMP_BYTES = Buffer.from(STAMP);

/** The non-negative decimal number that starts at `from` in `bytes` (NaN when none does). */
const numberAt = (bytes: Buffer, from: number): number => {
  if (from < 0) return Number.NaN;
  let end = from;
  while (end < bytes.length) {
    const c = bytes[end] as number;
    if ((c < 48 || c > 57) && c !== 46) break;
    end++;
  }
  return end === from ? Number.NaN : Number(bytes.toString("latin1", from, end));
};

const after = (bytes: Buffer, needle: Buffer, from = 0): number => {
  const at = bytes.indexOf(needle, from);
  return at < 0 ? -1 : at + needle.length;
};

/**
 * Reads the cursor, the criticality and the probe's time from a frame as the gateway writes it
 * (`{"type":"event","cursor":…,"event":{"criticality":…,…}}`) without parsing all of it: a client
 * process reads thousands of these a second. Undefined for any other frame (heartbeat, gap, pong).
 */
export const readEventFrame = (frame: Buffer): EventFrameFields | undefined => {
  if (
    frame.length < EVENT_FRAME.length ||
    frame.compare(EVENT_FRAME, 0, EVENT_FRAME.length, 0, EVENT_FRAME.length) !== 0
  )
    return undefined;
  const cursorAt = after(frame, CURSOR, EVENT_FRAME.length);
  const criticalityAt = after(frame, CRITICALITY, cursorAt);
  return {
    cursor: numberAt(frame, cursorAt),
    criticality: numberAt(frame, criticalityAt),
    publishedAt: numberAt(frame, after(frame, STAMP_BYTES, criticalityAt)),
  };
};

/** What one client received, in a form that compares with what it should have (see {@link expectedTally}). */
export interface ClientTally {
  readonly minCriticality: number;
  /** Event frames received. */
  readonly received: number;
  readonly firstCursor: number;
  readonly lastCursor: number;
  /** An order-sensitive digest of the cursors received. */
  readonly digest: number;
  /** Frames whose cursor was not above the one before (a duplicate or out of order). */
  readonly outOfOrder: number;
  /** Frames whose event was not above the client's filter. */
  readonly wrongFilter: number;
  /** Events that gap frames said will never come. */
  readonly gapMissed: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** The digest after one more cursor (FNV-1a over its two 32-bit halves). */
const digestWith = (digest: number, cursor: number): number => {
  const low = Math.imul(digest ^ (cursor >>> 0), FNV_PRIME);
  return Math.imul(low ^ Math.floor(cursor / 4_294_967_296), FNV_PRIME) >>> 0;
};

/** Keeps the tally of one client's event frames, in the order they arrive. */
export interface SequenceCheck {
  /** One event frame. */
  event(cursor: number, criticality: number): void;
  /** One gap frame: `missed` events will never come. */
  gap(missed: number): void;
  readonly lastCursor: number;
  tally(): ClientTally;
}

export const createSequenceCheck = (minCriticality: number): SequenceCheck => {
  let received = 0;
  let firstCursor = 0;
  let lastCursor = 0;
  let digest = FNV_OFFSET;
  let outOfOrder = 0;
  let wrongFilter = 0;
  let gapMissed = 0;
  return {
    event(cursor, criticality) {
      if (received === 0) firstCursor = cursor;
      else if (!(cursor > lastCursor)) outOfOrder++;
      if (!(criticality > minCriticality)) wrongFilter++;
      received++;
      lastCursor = cursor;
      digest = digestWith(digest, cursor);
    },
    gap(missed) {
      gapMissed += missed;
    },
    get lastCursor() {
      return lastCursor;
    },
    tally: () => ({ minCriticality, received, firstCursor, lastCursor, digest, outOfOrder, wrongFilter, gapMissed }),
  };
};

/** One message of the stream `LIVE`, as the bench reads it back afterwards. */
export interface StreamedEvent {
  readonly cursor: number;
  readonly criticality: number;
  /** The probe's stamp (see {@link stampedMessage}). */
  readonly publishedAt: number;
}

/** The tally a client with `minCriticality` should have after being sent exactly `streamed` (in cursor order). */
export const expectedTally = (streamed: readonly StreamedEvent[], minCriticality: number): ClientTally => {
  const check = createSequenceCheck(minCriticality);
  for (const { cursor, criticality } of streamed) if (criticality > minCriticality) check.event(cursor, criticality);
  return check.tally();
};

/** How one client's tally differs from what it should have been sent. */
export interface TallyVerdict {
  /** Received exactly the expected events, in order, once each. */
  readonly exact: boolean;
  /** Expected events that did not arrive. */
  readonly missed: number;
  /** Frames that should not have come: duplicates, out of order, or outside the filter. */
  readonly unexpected: number;
}

/** Compares what a client received with what it should have been sent. */
export const verifyTally = (actual: ClientTally, expected: ClientTally): TallyVerdict => {
  const exact =
    actual.received === expected.received &&
    actual.digest === expected.digest &&
    actual.outOfOrder === 0 &&
    actual.wrongFilter === 0;
  const unexpected = actual.outOfOrder + actual.wrongFilter;
  const missed = exact ? 0 : Math.max(0, expected.received - (actual.received - unexpected));
  // Same count but other cursors: the ones that came stood in for ones that did not.
  return { exact, missed: !exact && missed === 0 && unexpected === 0 ? 1 : missed, unexpected };
};

/** Counts of latency samples in buckets: 0.01 ms wide below 1 ms, then 1% wide. */
export interface HistogramCounts {
  /** `[bucket, count]` pairs of the buckets that are not empty. */
  readonly buckets: readonly (readonly [number, number])[];
  readonly count: number;
  readonly maxMs: number;
}

const LINEAR_BUCKETS = 100;
const GROWTH = Math.log(1.01);

const bucketOf = (ms: number): number =>
  ms < 1 ? Math.max(0, Math.floor(ms * 100)) : LINEAR_BUCKETS + Math.floor(Math.log(ms) / GROWTH);

/** The largest value that falls in `bucket`. */
const upperBound = (bucket: number): number =>
  bucket < LINEAR_BUCKETS ? (bucket + 1) / 100 : Math.exp((bucket - LINEAR_BUCKETS + 1) * GROWTH);

/** Latency samples of many clients, kept as counts per bucket (1% precision), not one by one. */
export interface LatencyHistogram {
  record(ms: number): void;
  counts(): HistogramCounts;
  reset(): void;
}

/** Buckets kept: 1% wide from 1 ms, the last one reaches beyond a day. */
const BUCKETS = LINEAR_BUCKETS + 1_900;

export const createLatencyHistogram = (): LatencyHistogram => {
  const counts = new Float64Array(BUCKETS);
  let count = 0;
  let maxMs = Number.NEGATIVE_INFINITY;
  return {
    record(ms) {
      const bucket = Math.min(BUCKETS - 1, bucketOf(ms));
      counts[bucket] = (counts[bucket] as number) + 1;
      count++;
      if (ms > maxMs) maxMs = ms;
    },
    counts: () => ({
      buckets: Array.from(counts.entries()).filter(([, n]) => n > 0),
      count,
      maxMs,
    }),
    reset() {
      counts.fill(0);
      count = 0;
      maxMs = Number.NEGATIVE_INFINITY;
    },
  };
};

/** The counts of several histograms together. */
export const mergeHistograms = (parts: readonly HistogramCounts[]): HistogramCounts => {
  const merged = new Map<number, number>();
  for (const part of parts) for (const [bucket, n] of part.buckets) merged.set(bucket, (merged.get(bucket) ?? 0) + n);
  return {
    buckets: [...merged].sort((a, b) => a[0] - b[0]),
    count: parts.reduce((sum, part) => sum + part.count, 0),
    maxMs: Math.max(...parts.map((part) => part.maxMs)),
  };
};

/**
 * Nearest-rank p50 and p99 (the upper bound of the bucket holding that rank, so at most 1% or
 * 0.01 ms above the sample, and never above the largest) and the exact maximum.
 */
export const histogramFigures = (h: HistogramCounts): LatencyFigures => {
  const at = (p: number) => {
    if (h.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * h.count));
    let seen = 0;
    for (const [bucket, n] of h.buckets) {
      seen += n;
      if (seen >= rank) return Math.min(upperBound(bucket), h.maxMs);
    }
    return h.maxMs;
  };
  return { count: h.count, p50Ms: at(50), p99Ms: at(99), maxMs: h.count === 0 ? Number.NaN : h.maxMs };
};
