import { decodeEvent, type SecurityEvent } from "@vigil/shared";
import { encodeFrame } from "./frames.js";
import type { LiveHub } from "./live-hub.js";
import type { LiveSession } from "./live-session.js";

/** One message of the stream `LIVE`, decoded. */
export interface LiveMessage {
  readonly seq: number;
  /** The event it carries; undefined when the payload is not one (it is skipped). */
  readonly event: SecurityEvent | undefined;
  /** Bytes of its payload, which bound a replay's batch. */
  readonly size: number;
  /** Its event frame, once a session was sent it: every other session sends the same bytes. */
  frame?: Buffer;
}

/** Reads the stream `LIVE` in order, from a sequence on, one bounded batch at a time. */
export interface ReplayReader {
  /**
   * The next messages in order: at most one batch, ending early when the stream has no more
   * within the reader's wait (so nothing at all means the stream holds nothing after the last).
   * Breaking out of it stops the batch.
   */
  batch(): AsyncIterable<LiveMessage>;
  /** Frees what the reader holds at the server. */
  close(): Promise<void>;
}

/** Opens readers of the stream `LIVE`. */
export interface ReplaySource {
  open(fromSeq: number): Promise<ReplayReader>;
}

/** The event in a message of `LIVE`, or undefined when the payload is not one (it is skipped). */
export const decodeLiveEvent = (data: Uint8Array): SecurityEvent | undefined => {
  const decoded = decodeEvent(data);
  return decoded.ok ? decoded.event : undefined;
};

/** A message of `LIVE` as the stream holds it (its sequence and payload), decoded. */
export const liveMessage = (seq: number, data: Uint8Array): LiveMessage => ({
  seq,
  event: decodeLiveEvent(data),
  size: data.byteLength,
});

/** Hands `message` to `session`, encoding its event frame the first time a session wants it. */
export const deliverMessage = (session: LiveSession, message: LiveMessage): void => {
  const { event } = message;
  if (event !== undefined && message.frame === undefined && session.wants(event)) {
    message.frame = encodeFrame({ type: "event", cursor: message.seq, event });
  }
  session.deliver(message.seq, event, message.frame);
};

/**
 * Replays from the hub's memory of the newest messages the shared feed handed out, and from
 * `stream` (a consumer opened only when needed, and closed once memory covers the rest) for what
 * is older. Clients that left for less than the memory holds thus cost no consumer, no read of
 * the stream and no decoding of their own. A batch from memory holds at most `batchBytes` of payload.
 */
export const memoryFirstReplays = (hub: LiveHub, stream: ReplaySource, batchBytes: number): ReplaySource => ({
  async open(fromSeq) {
    let next = fromSeq;
    let reader: ReplayReader | undefined;
    const closeReader = async () => {
      const open = reader;
      reader = undefined;
      await open?.close();
    };
    return {
      async *batch() {
        const held = hub.recent(next, batchBytes);
        if (held.length > 0) {
          await closeReader();
          for (const message of held) {
            next = message.seq + 1;
            yield message;
          }
          return;
        }
        reader ??= await stream.open(next);
        for await (const message of reader.batch()) {
          next = message.seq + 1;
          yield message;
        }
      },
      close: closeReader,
    };
  },
});

/**
 * Brings `session`, whose client has seen everything up to `after`, up to the shared feed, then
 * joins it there: the messages after `after` are read from the stream (a gap frame first for those
 * no longer kept) until the reader reaches the feed's head, and the session then takes the feed's
 * messages after that. The hub's head only grows, and a session skips what it was given already,
 * so nothing is missed or sent twice at the switch. Between batches it waits until the client has
 * taken the previous one, so a replay never holds more than one batch for a slow client. Rejects
 * when the stream cannot be read; the caller ends the session.
 */
export const resumeSession = async (
  session: LiveSession,
  hub: LiveHub,
  source: ReplaySource,
  after: number,
): Promise<void> => {
  session.cursor = after;
  if (after >= hub.head) {
    hub.join(session);
    return;
  }
  const reader = await source.open(after + 1);
  try {
    while (!session.closed) {
      let received = false;
      for await (const message of reader.batch()) {
        received = true;
        deliverMessage(session, message);
        if (session.closed) return;
        if (message.seq >= hub.head) {
          hub.join(session);
          return;
        }
      }
      if (!received) {
        // The stream ends before what the feed handed out: it lost those messages (recreated).
        session.gapTo(hub.head);
        hub.join(session);
        return;
      }
      await session.drained();
    }
  } finally {
    await reader.close();
  }
};
