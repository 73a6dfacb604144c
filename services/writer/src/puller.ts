import { backoffDelay, sleep } from "@vigil/runtime";
import type { Logger } from "pino";
import type { HeldMessage } from "./pending-event.js";
import type { RetryPolicy } from "./store-batch.js";

/** One pull request in progress: the messages it delivers, and a way to stop listening. */
export interface PulledMessages extends AsyncIterable<HeldMessage> {
  close(): Promise<unknown>;
}

/** Where messages are pulled from: the writers' durable consumer (`Consumer` satisfies it). */
export interface PullSource {
  fetch(options: { max_messages: number; expires: number }): Promise<PulledMessages>;
}

export interface PullerDeps {
  readonly source: PullSource;
  /** How many more messages the writer may hold now. */
  readonly room: () => number;
  /** Resolves when holding room may have grown (a write finished, or stopping began). */
  readonly nextWriteFinished: () => Promise<void>;
  /** Takes one pulled message; it is then held (batched or being dead-lettered). */
  readonly accept: (msg: HeldMessage) => void;
  /** Called after a pull failed (the consumer or its stream may be gone); never rejects. */
  readonly recover: () => Promise<void>;
  readonly log: Logger;
}

export interface PullerSettings {
  /** Most messages asked for in one pull. */
  readonly pullBatch: number;
  /** How long one pull request waits on the server for messages. */
  readonly expiresMs: number;
  readonly retry: RetryPolicy;
}

/** The pull loop of a running writer. */
export interface Puller {
  /**
   * Makes no further pull. The pull in progress is left up to `graceMs` to end (filled, or
   * expired): the server cannot be told to cancel it, and a message it delivered to a closed
   * subscription, or one handed back while it is still open, would sit out the whole ack wait.
   * Past that it is cut short, and what it still delivers is handed back, never batched.
   */
  stop(graceMs: number): Promise<void>;
  /** Settles once the loop has ended (after {@link stop}, and any wait for room is released). */
  readonly finished: Promise<void>;
}

/**
 * Pulls messages one fetch at a time, never more than there is room for: a message pulled is at
 * once held, where it is kept alive and counted. While InfluxDB is down the batches fill up, the
 * room drops to zero and the puller waits until a write finishes. A pull that ends early with
 * nothing (an error, a server refusing requests) backs off instead of spinning.
 */
/** The pull request in progress, shared by the loop and {@link Puller.stop}. */
interface PullState {
  current: Promise<number>;
  messages: PulledMessages | undefined;
  open: boolean;
  /** Set when stopping cut the pull short: what it still delivers is handed back. */
  cut: boolean;
}

/** Makes one pull request of up to `maxMessages` and hands each message to `accept`; resolves with the count. */
const pullOnce = async (
  state: PullState,
  deps: PullerDeps,
  maxMessages: number,
  expiresMs: number,
): Promise<number> => {
  let pulled = 0;
  state.open = true;
  try {
    state.messages = await deps.source.fetch({ max_messages: maxMessages, expires: expiresMs });
    for await (const msg of state.messages) {
      if (state.cut) {
        msg.nak();
        continue;
      }
      pulled++;
      deps.accept(msg);
    }
  } finally {
    state.open = false;
  }
  return pulled;
};

/**
 * Pulls messages one fetch at a time, never more than there is room for: a message pulled is at
 * once held, where it is kept alive and counted. While InfluxDB is down the batches fill up, the
 * room drops to zero and the puller waits until a write finishes. A pull that ends early with
 * nothing (an error, a server refusing requests) backs off instead of spinning.
 */
export const startPuller = (deps: PullerDeps, settings: PullerSettings): Puller => {
  const stopping = new AbortController();
  const state: PullState = { current: Promise.resolve(0), messages: undefined, open: false, cut: false };

  const run = async (): Promise<void> => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      const room = deps.room();
      if (room <= 0) {
        await deps.nextWriteFinished();
        continue;
      }
      const started = Date.now();
      let pulled = 0;
      try {
        state.current = pullOnce(state, deps, Math.min(room, settings.pullBatch), settings.expiresMs);
        pulled = await state.current;
      } catch (err) {
        if (stopping.signal.aborted) break;
        deps.log.error({ err }, "pulling events failed; retrying");
        await deps.recover();
      }
      if (pulled > 0 || Date.now() - started >= settings.expiresMs) failures = 0;
      else await sleep(backoffDelay(failures++, settings.retry.initialMs, settings.retry.maxMs), stopping.signal);
    }
  };

  return {
    finished: run(),
    async stop(graceMs) {
      stopping.abort();
      const grace = new AbortController();
      await Promise.race([state.current.catch(() => 0), sleep(graceMs, grace.signal)]);
      grace.abort();
      if (!state.open) return;
      state.cut = true;
      void state.messages?.close();
    },
  };
};
