import { decodeEvent, type SecurityEvent } from "@vigil/shared";
import type { LiveHub } from "./live-hub.js";
import type { LiveSession } from "./live-session.js";

/** One message of the stream `LIVE`. */
export interface LiveMessage {
  readonly seq: number;
  readonly data: Uint8Array;
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
        session.deliver(message.seq, decodeLiveEvent(message.data));
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
