import { type Deferred, deferred } from "@nats-io/nats-core";

/**
 * Events published and not yet settled, bounded by `maxInFlight`: at the bound the generator
 * waits for room, which it gets back once an eighth of the events in flight are settled (so that
 * it resumes in bursts rather than one event at a time).
 */
export interface InFlight {
  count(): number;
  full(): boolean;
  /** Counts one more event in flight. */
  add(): void;
  /** One event in flight is done with: confirmed, or given up on. */
  settle(): void;
  /** Resolves once enough events in flight are settled to publish again, or on {@link wake}. */
  untilRoom(): Promise<void>;
  /** Resolves a pending {@link untilRoom} now. */
  wake(): void;
  /** Resolves once nothing is in flight. */
  untilIdle(): Promise<void>;
}

export const createInFlight = (maxInFlight: number): InFlight => {
  const resumeAt = maxInFlight - Math.max(1, Math.floor(maxInFlight / 8));
  let count = 0;
  let room: Deferred<void> | undefined;
  let idle: Deferred<void> | undefined;

  return {
    count: () => count,
    full: () => count >= maxInFlight,
    add() {
      count++;
    },
    settle() {
      count--;
      if (room !== undefined && count <= resumeAt) {
        room.resolve();
        room = undefined;
      }
      if (count === 0) idle?.resolve();
    },
    untilRoom() {
      room = deferred<void>();
      return room;
    },
    wake: () => room?.resolve(),
    untilIdle() {
      if (count === 0) return Promise.resolve();
      idle ??= deferred<void>();
      return idle;
    },
  };
};
