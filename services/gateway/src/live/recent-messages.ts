import type { LiveMessage } from "./resume.js";

/**
 * The newest messages of `LIVE` that the shared feed handed out, in order and without a hole, at
 * most `capacity` of them: a client resuming within them replays from memory, with frames encoded
 * once for every client, instead of reading and decoding the stream through a consumer of its own.
 */
export interface RecentMessages {
  /** How many are held. */
  readonly size: number;
  /**
   * Holds `message`, dropping the oldest beyond the capacity. A message already held (a feed that
   * restarted behind its head hands it out again) is ignored; one that does not follow the newest
   * (a feed that restarted at the stream's end) starts the memory afresh, since what lies between
   * was never handed out.
   */
  add(message: LiveMessage): void;
  /**
   * The held messages from `seq` on, in order, as many as fit in `maxBytes` of payload (at least
   * one); none when `seq` is not held.
   */
  from(seq: number, maxBytes: number): LiveMessage[];
}

export const createRecentMessages = (capacity: number): RecentMessages => {
  const ring: (LiveMessage | undefined)[] = new Array(capacity);
  let first = 0;
  let size = 0;
  const at = (seq: number): LiveMessage => ring[seq % capacity] as LiveMessage;
  return {
    get size() {
      return size;
    },
    add(message) {
      if (capacity === 0) return;
      const next = first + size;
      if (size > 0 && message.seq >= first && message.seq < next) return;
      if (size > 0 && message.seq !== next) {
        ring.fill(undefined);
        size = 0;
      }
      if (size === 0) first = message.seq;
      else if (size === capacity) {
        first++;
        size--;
      }
      ring[message.seq % capacity] = message;
      size++;
    },
    from(seq, maxBytes) {
      const taken: LiveMessage[] = [];
      let bytes = 0;
      for (let s = seq; size > 0 && s >= first && s < first + size; s++) {
        const message = at(s);
        if (taken.length > 0 && bytes + message.size > maxBytes) break;
        taken.push(message);
        bytes += message.size;
      }
      return taken;
    },
  };
};
