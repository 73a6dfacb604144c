import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { millis } from "@nats-io/nats-core";
import { DEAD_LETTER_STREAM } from "@vigil/shared";
import { type DeadLetterRecord, toDeadLetterRecord } from "./record.js";

/** Which records DEADLETTERS holds right now. */
export interface DeadLetterBounds {
  /** Records in the stream; sequences between `first` and `last` may be missing (deleted). */
  readonly count: number;
  readonly first: number;
  readonly last: number;
}

/** The dead-letter stream, as the command uses it. */
export interface DeadLetterStore {
  /** Undefined when the stream does not exist (no writer has run against this server). */
  bounds(): Promise<DeadLetterBounds | undefined>;
  /** The record at `seq`, or undefined when there is none. */
  get(seq: number): Promise<DeadLetterRecord | undefined>;
  /** The records from `from` to `until` (inclusive), oldest first, read a page at a time. */
  read(from: number, until: number): AsyncIterable<DeadLetterRecord>;
  /** Deletes the record at `seq`. */
  remove(seq: number): Promise<void>;
}

/** A JetStream request about the dead-letter stream failed. */
export class DeadLetterStoreError extends Error {
  override readonly name = "DeadLetterStoreError";
}

/** Records fetched per page while reading. */
const PAGE_SIZE = 256;

const isStreamNotFound = (err: unknown): boolean =>
  err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;

const fromJsMsg = (msg: JsMsg): DeadLetterRecord =>
  toDeadLetterRecord({
    seq: msg.seq,
    storedAt: new Date(millis(msg.info.timestampNanos)),
    headers: msg.headers,
    data: msg.data,
  });

/** Where a page of fetched messages stops being read. */
interface PagedMessage {
  readonly seq: number;
  readonly info: { readonly pending: number };
}

/**
 * Reads one fetched page of `messages` into records, up to `until`. `last` says the page reached
 * `until` or the end of the stream; a page that ends otherwise is followed by another. The whole
 * page is read before any of it is handed out, so that slow work on the records (replay publishes
 * and deletes each) never stalls the consumer mid-fetch.
 */
export const readPage = async <M extends PagedMessage, R>(
  messages: AsyncIterable<M>,
  until: number,
  toRecord: (msg: M) => R,
): Promise<{ readonly records: R[]; readonly last: boolean }> => {
  const records: R[] = [];
  for await (const msg of messages) {
    if (msg.seq > until) return { records, last: true };
    records.push(toRecord(msg));
    if (msg.seq === until || msg.info.pending === 0) return { records, last: true };
  }
  return { records, last: false };
};

const readBounds = async (jsm: JetStreamManager): Promise<DeadLetterBounds | undefined> => {
  try {
    const { state } = await jsm.streams.info(DEAD_LETTER_STREAM);
    return { count: state.messages, first: state.first_seq, last: state.last_seq };
  } catch (err) {
    if (isStreamNotFound(err)) return undefined;
    throw new DeadLetterStoreError(`cannot read stream ${DEAD_LETTER_STREAM}: ${(err as Error).message}`, {
      cause: err,
    });
  }
};

const getRecord = async (jsm: JetStreamManager, seq: number): Promise<DeadLetterRecord | undefined> => {
  let stored: Awaited<ReturnType<JetStreamManager["streams"]["getMessage"]>>;
  try {
    stored = await jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq });
  } catch (err) {
    if (isStreamNotFound(err)) return undefined;
    throw new DeadLetterStoreError(`cannot read dead letter #${seq}: ${(err as Error).message}`, { cause: err });
  }
  if (stored === null) return undefined;
  return toDeadLetterRecord({ seq: stored.seq, storedAt: stored.time, headers: stored.header, data: stored.data });
};

async function* readRecords(
  js: JetStreamClient,
  from: number,
  until: number,
  timeoutMs: number,
): AsyncIterable<DeadLetterRecord> {
  if (from > until) return;
  const consumer = await js.consumers.get(DEAD_LETTER_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: from,
  });
  try {
    for (;;) {
      const messages = await consumer.fetch({ max_messages: PAGE_SIZE, expires: timeoutMs });
      const { records, last } = await readPage(messages, until, fromJsMsg);
      yield* records;
      // An empty page: everything up to `until` was deleted meanwhile.
      if (last || records.length === 0) return;
    }
  } finally {
    await consumer.delete().catch(() => {});
  }
}

const removeRecord = async (jsm: JetStreamManager, seq: number): Promise<void> => {
  let removed: boolean;
  try {
    removed = await jsm.streams.deleteMessage(DEAD_LETTER_STREAM, seq);
  } catch (err) {
    throw new DeadLetterStoreError(`cannot delete dead letter #${seq}: ${(err as Error).message}`, { cause: err });
  }
  if (!removed) throw new DeadLetterStoreError(`the server did not delete dead letter #${seq}`);
};

/**
 * The dead-letter stream through `jsm` and `js`. Reading uses an ordered consumer, which keeps
 * no state on the server that outlives it (it is deleted once read, and is ephemeral anyway);
 * single records are fetched with a stream message get.
 */
export const createDeadLetterStore = (
  jsm: JetStreamManager,
  js: JetStreamClient,
  timeoutMs: number,
): DeadLetterStore => ({
  bounds: () => readBounds(jsm),
  get: (seq) => getRecord(jsm, seq),
  read: (from, until) => readRecords(js, from, until, timeoutMs),
  remove: (seq) => removeRecord(jsm, seq),
});
