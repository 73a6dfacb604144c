import { type Deferred, deferred } from "@nats-io/nats-core";
import { createWaitingBatch } from "./waiting-batch.js";
import { createWriteSlots } from "./write-slots.js";

/**
 * When a batch is sent, and how many may be in flight. With `flushWhenIdle`, a batch that is not
 * full goes at once (at the end of the event-loop turn its first item came in) when nothing is
 * being written: at low rates no item waits for a timer. While a write is in flight the next batch
 * fills behind it and goes when that write finishes, when it is full, or when its interval
 * elapses, whichever comes first (group commit: the busier the writes, the bigger the batches).
 */
export interface BatchPolicy {
  /** A batch is sent as soon as it holds this many items (and never holds more)... */
  readonly batchSize: number;
  /** ...or once its first item has waited this long... */
  readonly flushIntervalMs: number;
  /** ...or, when true, as soon as no write is in flight. */
  readonly flushWhenIdle: boolean;
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
  const send = () => slots.start(waiting.take(policy.batchSize));
  const sendFull = () => {
    while (slots.free() && waiting.count() >= policy.batchSize) send();
  };
  // Set while a send of what waits is queued for the end of this turn: the items that came in
  // together (one socket read of the pull) go together.
  let idleSend: NodeJS.Immediate | undefined;
  const sendIfIdle = () => {
    idleSend = undefined;
    if (slots.idle() && waiting.count() > 0) send();
  };
  // One promise for every caller until the next write finishes (or drain starts).
  let writeFinished: Deferred<void> | undefined;
  const wakeWaiters = () => {
    writeFinished?.resolve();
    writeFinished = undefined;
  };

  const waiting = createWaitingBatch<T>(policy.flushIntervalMs, () => {
    // While every slot is busy the batch stays due, and goes as soon as one frees up.
    if (slots.free()) send();
  });
  const slots = createWriteSlots<T>(policy.maxConcurrentWrites, write, () => {
    sendFull();
    if ((waiting.due() || (policy.flushWhenIdle && slots.idle())) && slots.free() && waiting.count() > 0) send();
    wakeWaiters();
  });

  return {
    add(item) {
      if (waiting.add(item) >= policy.batchSize) sendFull();
      else if (policy.flushWhenIdle && idleSend === undefined && slots.idle()) idleSend = setImmediate(sendIfIdle);
    },
    heldCount: () => slots.itemCount() + waiting.count(),
    held() {
      const rest = waiting.held();
      return rest === undefined ? slots.held() : [...slots.held(), rest];
    },
    nextWriteFinished() {
      writeFinished ??= deferred<void>();
      return writeFinished;
    },
    drain() {
      clearImmediate(idleSend);
      idleSend = undefined;
      while (waiting.count() > 0) send();
      waiting.stop();
      wakeWaiters();
      return slots.settled();
    },
  };
};
