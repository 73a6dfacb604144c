import type { HeldBatch } from "./batcher.js";
import type { PendingEvent } from "./pending-event.js";

/**
 * Tells JetStream that held messages are still being worked on, so that a long InfluxDB outage
 * does not get them redelivered to another writer. Each tick refreshes the batches not refreshed
 * (or, if never, not arrived) for at least `intervalMs`; ticking every `intervalMs` therefore
 * refreshes every message at most `2 * intervalMs` after the last time, which stays below the ack
 * wait when `intervalMs` is a third of it.
 */
export const createKeepAlive = (held: () => readonly HeldBatch<PendingEvent>[], intervalMs: number) => {
  const refreshedAt = new WeakMap<readonly PendingEvent[], number>();
  return {
    /** Refreshes what is due at `now` (epoch milliseconds); returns how many messages it refreshed. */
    tick(now: number): number {
      let refreshed = 0;
      for (const { items, since } of held()) {
        if (now - Math.max(since, refreshedAt.get(items) ?? 0) < intervalMs) continue;
        refreshedAt.set(items, now);
        try {
          for (const item of items) item.msg.working();
        } catch {
          // Connection closed: nothing to keep alive any more.
        }
        refreshed += items.length;
      }
      return refreshed;
    },
  };
};
