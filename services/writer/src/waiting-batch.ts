import type { HeldBatch } from "./batcher.js";

/**
 * Items waiting for a batch slot, when the oldest of them arrived, and the flush interval that
 * runs from that arrival. When the interval elapses with items waiting, the batch is due:
 * `onDue` is called, and {@link WaitingBatch.due} stays true until the items are taken.
 */
export interface WaitingBatch<T> {
  /** Adds an item; the first one starts the interval. Returns how many items wait. */
  add(item: T): number;
  count(): number;
  /** True once the interval elapsed with items waiting, until they are taken. */
  due(): boolean;
  /**
   * Takes the oldest `max` items. Those left over keep the arrival time of the oldest (the one that
   * matters for keeping the messages alive) and start a new interval.
   */
  take(max: number): HeldBatch<T>;
  /** The items waiting, if any, with the arrival time of the oldest. */
  held(): HeldBatch<T> | undefined;
  /** Cancels the interval. */
  stop(): void;
}

export const createWaitingBatch = <T>(flushIntervalMs: number, onDue: () => void): WaitingBatch<T> => {
  let items: T[] = [];
  let since = 0;
  let timer: NodeJS.Timeout | undefined;
  let due = false;

  const elapsed = () => {
    timer = undefined;
    if (items.length === 0) return;
    due = true;
    onDue();
  };
  const arm = () => {
    timer ??= setTimeout(elapsed, flushIntervalMs);
  };
  const stop = () => {
    clearTimeout(timer);
    timer = undefined;
  };

  return {
    add(item) {
      items.push(item);
      if (items.length === 1) {
        since = Date.now();
        arm();
      }
      return items.length;
    },
    count: () => items.length,
    due: () => due && items.length > 0,
    take(max) {
      stop();
      due = false;
      const taken = items;
      items = taken.length > max ? taken.splice(max) : [];
      if (items.length > 0) arm();
      return { items: taken, since };
    },
    held: () => (items.length > 0 ? { items, since } : undefined),
    stop,
  };
};
