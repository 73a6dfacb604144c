/** When a batch is sent, and how many may be in flight. */
export interface BatchPolicy {
  /** A batch is sent as soon as it holds this many items (and never holds more)... */
  readonly batchSize: number;
  /** ...or once its first item has waited this long, whichever comes first. */
  readonly flushIntervalMs: number;
  /** Batches being written at once; a full batch waits for a free slot. */
  readonly maxConcurrentWrites: number;
}

/** Items held together, and when the oldest of them arrived (epoch milliseconds). */
export interface HeldBatch<T> {
  readonly items: readonly T[];
  readonly since: number;
}

/**
 * Collects items into batches and hands each to `write`, never more than the policy allows at
 * once. Items keep arriving while every slot is busy; the caller bounds them with
 * {@link Batcher.heldCount} and {@link Batcher.nextWriteFinished}.
 */
export interface Batcher<T> {
  add(item: T): void;
  /** Items held: waiting for a batch slot or being written. */
  heldCount(): number;
  /** The batches held right now: those being written, and the items waiting for a slot. */
  held(): HeldBatch<T>[];
  /** Resolves when a write finishes, or when {@link drain} starts. */
  nextWriteFinished(): Promise<void>;
  /**
   * Sends every waiting item even when every slot is busy and resolves once every write has
   * settled. Nothing may be added afterwards.
   */
  drain(): Promise<void>;
}

/**
 * Creates a batcher. `write` must not reject: it owns the outcome of its batch (acknowledge, dead-letter
 * or hand back), and the batcher only tracks that it finished.
 */
export const createBatcher = <T>(policy: BatchPolicy, write: (batch: readonly T[]) => Promise<void>): Batcher<T> => {
  let waiting: T[] = [];
  let waitingSince = 0;
  let timer: NodeJS.Timeout | undefined;
  // The interval elapsed while every slot was busy: send as soon as one frees up.
  let due = false;
  const writing = new Map<readonly T[], { readonly since: number; readonly done: Promise<void> }>();
  let writingCount = 0;
  let finishedWaiters: (() => void)[] = [];

  const armTimer = () => {
    timer ??= setTimeout(onInterval, policy.flushIntervalMs);
  };

  const send = () => {
    clearTimeout(timer);
    timer = undefined;
    due = false;
    let batch: T[];
    if (waiting.length <= policy.batchSize) {
      batch = waiting;
      waiting = [];
    } else {
      // More arrived while every slot was busy: send one full batch; the rest waits its turn and
      // keeps the arrival time of the oldest, which is the one that matters for keeping it alive.
      batch = waiting;
      waiting = batch.splice(policy.batchSize);
      armTimer();
    }
    writingCount += batch.length;
    const finish = () => finished(batch);
    writing.set(batch, { since: waitingSince, done: write(batch).then(finish, finish) });
  };

  const sendFull = () => {
    while (writing.size < policy.maxConcurrentWrites && waiting.length >= policy.batchSize) send();
  };

  const finished = (batch: readonly T[]) => {
    writing.delete(batch);
    writingCount -= batch.length;
    sendFull();
    if (due && waiting.length > 0 && writing.size < policy.maxConcurrentWrites) send();
    wakeWaiters();
  };

  const wakeWaiters = () => {
    const wake = finishedWaiters;
    finishedWaiters = [];
    for (const resolve of wake) resolve();
  };

  const onInterval = () => {
    timer = undefined;
    if (waiting.length === 0) return;
    if (writing.size < policy.maxConcurrentWrites) send();
    else due = true;
  };

  return {
    add(item) {
      waiting.push(item);
      if (waiting.length === 1) {
        waitingSince = Date.now();
        armTimer();
      }
      if (waiting.length >= policy.batchSize) sendFull();
    },

    heldCount: () => writingCount + waiting.length,

    held() {
      const batches: HeldBatch<T>[] = [];
      for (const [items, { since }] of writing) batches.push({ items, since });
      if (waiting.length > 0) batches.push({ items: waiting, since: waitingSince });
      return batches;
    },

    nextWriteFinished: () => new Promise<void>((resolve) => finishedWaiters.push(resolve)),

    drain() {
      while (waiting.length > 0) send();
      clearTimeout(timer);
      timer = undefined;
      wakeWaiters();
      return Promise.all(Array.from(writing.values(), ({ done }) => done)).then(() => undefined);
    },
  };
};
