import type { HeldBatch } from "./batcher.js";

/** The batches being written, at most `max` at once. */
export interface WriteSlots<T> {
  /** True while fewer than `max` batches are being written. */
  free(): boolean;
  /** True while no batch is being written. */
  idle(): boolean;
  /** Items in the batches being written. */
  itemCount(): number;
  /** Starts writing `batch`; `onFinished` is called once its write settles, either way. */
  start(batch: HeldBatch<T>): void;
  /** The batches being written, with when each started waiting. */
  held(): HeldBatch<T>[];
  /** Resolves once every write started so far has settled. */
  settled(): Promise<void>;
}

/**
 * Tracks the writes in flight. `write` owns the outcome of its batch; a write that rejects
 * anyway still frees its slot.
 */
export const createWriteSlots = <T>(
  max: number,
  write: (batch: readonly T[]) => Promise<void>,
  onFinished: () => void,
): WriteSlots<T> => {
  const writing = new Map<readonly T[], { readonly since: number; readonly done: Promise<void> }>();
  let itemCount = 0;

  return {
    free: () => writing.size < max,
    idle: () => writing.size === 0,
    itemCount: () => itemCount,
    start({ items, since }) {
      itemCount += items.length;
      const finish = () => {
        writing.delete(items);
        itemCount -= items.length;
        onFinished();
      };
      writing.set(items, { since, done: write(items).then(finish, finish) });
    },
    held: () => Array.from(writing, ([items, { since }]) => ({ items, since })),
    settled: () => Promise.all(Array.from(writing.values(), ({ done }) => done)).then(() => undefined),
  };
};
