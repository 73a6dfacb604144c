import { isAscii } from "node:buffer";
import { CRITICALITY_RANGE, checkSecurityEvent, describeIssues, SecurityEvent, timestampMillis } from "@vigil/shared";
import type { QueryParam, QuerySeries } from "./client.js";

/**
 * How events are laid out in InfluxDB.
 *
 * - Measurement {@link EVENTS_MEASUREMENT}; tag `criticality` ("0".."10"), so "criticality above
 *   N" reads only the matching series' newest points instead of scanning every event.
 * - Point time: the event's instant truncated to the millisecond, plus `seq mod 1e6`
 *   nanoseconds; tag {@link SEQUENCE_BLOCK_TAG} = `floor(seq / 1e6)`, left out for block 0.
 *   Together they are the whole stream sequence, so the point key is injective: two distinct
 *   messages (distinct sequences) never share measurement + tags + time, whatever their
 *   timestamps and however far apart their sequences, while a redelivered message (same
 *   sequence) lands on the same key and overwrites itself with identical values. The block tag
 *   adds eleven series per million events, which InfluxDB's retention bounds.
 * - Fields: `eventMessage`, the original `timestamp` text, and `id`/`source` when present.
 *   `seq` keeps the JetStream stream sequence the point came from.
 */
export const EVENTS_MEASUREMENT = "security_events";

/** The tag holding `floor(seq / 1e6)`, the part of the stream sequence the point time cannot hold. */
export const SEQUENCE_BLOCK_TAG = "seq_block";

/** A decoded event together with the stream sequence that makes its point unique. */
export interface SequencedEvent {
  readonly event: SecurityEvent;
  /** JetStream stream sequence of the message that carried the event (a positive integer). */
  readonly sequence: number;
}

const NS_PER_MS = 1_000_000;

/** Nanosecond point time for an event, as the decimal string line protocol expects. */
export const pointTime = (timestamp: string, sequence: number): string => {
  const ms = timestampMillis(timestamp);
  const offset = sequence % NS_PER_MS;
  if (ms >= 0) return `${ms}${String(offset).padStart(6, "0")}`;
  return (BigInt(ms) * BigInt(NS_PER_MS) + BigInt(offset)).toString();
};

// Line protocol escaping: tag values escape comma, equals and space; string field values
// escape backslash and double quote (a newline inside quotes is kept as is). Two `indexOf`
// scans cost less than a regular expression test on the common text that needs no escaping.
const escapeFieldString = (value: string): string =>
  value.indexOf('"') === -1 && value.indexOf("\\") === -1 ? value : value.replace(/["\\]/g, (char) => `\\${char}`);

const lineStart = (criticality: number) => `${EVENTS_MEASUREMENT},criticality=${criticality}`;
/** The start of every line, by criticality: the same few strings for every event. */
const LINE_STARTS: readonly string[] = Array.from({ length: CRITICALITY_RANGE.max + 1 }, (_, criticality) =>
  lineStart(criticality),
);

/**
 * The tags after `criticality`: the sequence block, except for block 0, whose points keep the
 * layout they had before the tag existed (tags are sorted: `criticality` < `seq_block`).
 */
const sequenceBlockTag = (sequence: number): string => {
  const block = Math.floor(sequence / NS_PER_MS);
  return block === 0 ? "" : `,${SEQUENCE_BLOCK_TAG}=${block}`;
};

/** Encodes one event as a line of line protocol (no trailing newline). */
export const encodePoint = ({ event, sequence }: SequencedEvent): string => {
  let line = `${LINE_STARTS[event.criticality] ?? lineStart(event.criticality)}${sequenceBlockTag(sequence)} eventMessage="${escapeFieldString(event.eventMessage)}",timestamp="${escapeFieldString(event.timestamp)}",seq=${sequence}i`;
  // `id` and `source` are validated by the schema to contain no quote or backslash, but they are
  // escaped all the same so that the encoder never depends on a caller having validated.
  if (event.id !== undefined) line += `,id="${escapeFieldString(event.id)}"`;
  if (event.source !== undefined) line += `,source="${escapeFieldString(event.source)}"`;
  return `${line} ${pointTime(event.timestamp, sequence)}`;
};

const NEWLINE = 0x0a;
/** What `Buffer#write` puts in place of a lone surrogate: U+FFFD in UTF-8. */
const REPLACEMENT_CHARACTER = Buffer.from("\uFFFD");
/** Scratch space for bodies, kept from one batch to the next up to this size. */
const MAX_RETAINED_SCRATCH_BYTES = 8 * 1024 * 1024;
let scratch: Buffer = Buffer.allocUnsafe(64 * 1024);

/** A buffer with room for `needed` more bytes after the first `used` of `buffer`, which it holds too. */
const grow = (buffer: Buffer, used: number, needed: number): Buffer => {
  const larger = Buffer.allocUnsafe(Math.max(2 * buffer.length, used + needed));
  buffer.copy(larger, 0, 0, used);
  return larger;
};

/**
 * Encodes a batch of events as one line-protocol body. Each line goes into one byte buffer and the
 * body is read back from it as a single flat string: appending thousands of lines to a string
 * builds a rope whose flattening, when the body is sent, costs more than encoding the events did.
 */
export const encodePoints = (events: readonly SequencedEvent[]): string => {
  let buffer: Buffer = scratch;
  let used = 0;
  for (let i = 0; i < events.length; i++) {
    const line = encodePoint(events[i] as SequencedEvent);
    // One UTF-16 unit takes at most three bytes of UTF-8; one more for the newline.
    const needed = 3 * line.length + 1;
    if (buffer.length - used < needed) buffer = grow(buffer, used, needed);
    if (i > 0) buffer[used++] = NEWLINE;
    used += buffer.write(line, used, "utf8");
  }
  if (buffer.length <= MAX_RETAINED_SCRATCH_BYTES) scratch = buffer;
  const body = buffer.subarray(0, used);
  if (isAscii(body)) return body.toString("latin1");
  // Read back as UTF-8 the text is unchanged, unless it held a lone surrogate (written as U+FFFD).
  if (body.indexOf(REPLACEMENT_CHARACTER) === -1) return body.toString("utf8");
  return events.map(encodePoint).join("\n");
};

const COLUMNS = ["criticality", "eventMessage", "timestamp", "id", "source"] as const;
const SELECT = `SELECT ${COLUMNS.map((column) => `"${column}"`).join(", ")} FROM "${EVENTS_MEASUREMENT}"`;

/** A parameterised InfluxQL statement. */
export interface BoundStatement {
  readonly statement: string;
  readonly params: Readonly<Record<string, QueryParam>>;
}

/**
 * The InfluxQL statement for "newest `limit` events with criticality strictly above
 * `minCriticality`", or `undefined` when no criticality can match. The statement text depends
 * only on how many criticality values qualify and on whether `since` is given; every value, the
 * limit and `since` are bound parameters.
 *
 * With `since`, only points whose time is strictly after it are read (`time > $since`, no upper
 * bound, so points stamped in the future are read too). Equal point times fall wholly on one side
 * of the bound, so when this returns `limit` rows they are exactly the first `limit` rows of the
 * statement without `since`, in the same order: every point it leaves out is older than every
 * point it returns.
 */
export const latestEventsStatement = (
  minCriticality: number,
  limit: number,
  since?: Date,
): BoundStatement | undefined => {
  const lowest = Math.max(CRITICALITY_RANGE.min, minCriticality + 1);
  if (lowest > CRITICALITY_RANGE.max) return undefined;
  const params: Record<string, QueryParam> = { limit };
  const conditions: string[] = [];
  // Every criticality qualifies: no filter at all, InfluxDB merges all series directly.
  if (lowest > CRITICALITY_RANGE.min) {
    const matches: string[] = [];
    for (let level = lowest; level <= CRITICALITY_RANGE.max; level++) {
      params[`c${level}`] = String(level);
      matches.push(`"criticality" = $c${level}`);
    }
    conditions.push(since === undefined ? matches.join(" OR ") : `(${matches.join(" OR ")})`);
  }
  if (since !== undefined) {
    params.since = since.toISOString();
    conditions.push("time > $since");
  }
  const where = conditions.length === 0 ? "" : ` WHERE ${conditions.join(" AND ")}`;
  return { statement: `${SELECT}${where} ORDER BY time DESC LIMIT $limit`, params };
};

/**
 * Bytes one event takes in InfluxDB's JSON answer to {@link latestEventsStatement}, for an event
 * sent in at most 8 KiB (MAX_EVENT_BYTES): InfluxDB escapes `<`, `>`, `&` and control characters
 * as six bytes each, so a message of 1024 of them takes 6 KiB, and the other columns (time,
 * criticality, timestamp, id, source, quotes and commas) stay well within the remaining 2 KiB.
 * Only a stored point with a longer timestamp text or a larger writer limit takes more.
 */
export const ANSWER_BYTES_PER_EVENT = 8 * 1024;

/** Bytes of InfluxDB's answer around the rows: the result, series, name and column list. */
const ANSWER_ENVELOPE_BYTES = 1024;

/** The size InfluxDB's answer to {@link latestEventsStatement} with `limit` stays within for events of up to 8 KiB. */
export const answerBytesBound = (limit: number): number => ANSWER_ENVELOPE_BYTES + limit * ANSWER_BYTES_PER_EVENT;

/**
 * Turns the rows of {@link latestEventsStatement} back into events, in the order InfluxDB
 * returned them. A row that is not a valid event (written by something else) is passed to
 * `onInvalid` with the reason, and skipped.
 */
export const decodeEventRows = (
  series: readonly QuerySeries[],
  onInvalid: (row: Record<string, unknown>, reason: string) => void = () => {},
): SecurityEvent[] => {
  const events: SecurityEvent[] = [];
  for (const one of series) {
    for (const values of one.values) {
      const row: Record<string, unknown> = {};
      one.columns.forEach((column, index) => {
        const value = values[index];
        if (column === "time" || value === null || value === undefined) return;
        row[column] = column === "criticality" ? Number(value) : value;
      });
      const event = checkSecurityEvent(row);
      if (event !== undefined) {
        events.push(event);
        continue;
      }
      const parsed = SecurityEvent.safeParse(row);
      if (parsed.success) events.push(parsed.data);
      else onInvalid(row, describeIssues(parsed.error));
    }
  }
  return events;
};

/**
 * The InfluxQL statement that counts the events whose time falls in `[from, to)`, one series per
 * criticality. Both instants are bound parameters (RFC 3339 strings), never part of the text.
 */
export const countByCriticalityStatement = (from: Date, to: Date): BoundStatement => ({
  statement: `SELECT count("seq") FROM "${EVENTS_MEASUREMENT}" WHERE time >= $from AND time < $to GROUP BY "criticality"`,
  params: { from: from.toISOString(), to: to.toISOString() },
});

/**
 * Turns the series of {@link countByCriticalityStatement} into a count per criticality level,
 * `"0"` to `"10"`, each present (0 when no series came back for it). Series of a criticality
 * outside the range (written by something else) are left out.
 */
export const decodeCountRows = (series: readonly QuerySeries[]): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (let level = CRITICALITY_RANGE.min; level <= CRITICALITY_RANGE.max; level++) counts[String(level)] = 0;
  for (const one of series) {
    const level = one.tags?.criticality;
    const column = one.columns.indexOf("count");
    if (level === undefined || !(level in counts) || column === -1) continue;
    for (const values of one.values) {
      const count = Number(values[column] ?? 0);
      if (Number.isSafeInteger(count) && count > 0) counts[level] = (counts[level] ?? 0) + count;
    }
  }
  return counts;
};
