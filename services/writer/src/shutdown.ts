import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import type { Puller } from "./puller.js";

/** What stopping a writer works through, in the order it does. */
export interface ShutdownDeps {
  /** Ends the timers that take work or probe (the backlog poll). */
  readonly stopProbing: () => void;
  readonly puller: Pick<Puller, "stop" | "finished">;
  /** Sends every batch held, and settles once each is written or handed back. */
  readonly drain: () => Promise<void>;
  /** Dead-letter publishes still in progress; each settles by recording or handing back. */
  readonly deadLettering: () => Iterable<Promise<void>>;
  /** Aborted at the deadline: held batches stop retrying and hand their messages back. */
  readonly giveUp: AbortController;
  /** Ends the timers that keep held messages alive; nothing is held any more. */
  readonly stopKeepingAlive: () => void;
  /** Sends the acknowledgements still buffered in the connection. */
  readonly flush: () => Promise<void>;
  readonly log: Logger;
}

export interface ShutdownSettings {
  /** How long writing what is held may take before the rest is handed back (WRITER_SHUTDOWN_TIMEOUT). */
  readonly timeoutMs: number;
  /** How long the pull in progress may take to end (see {@link Puller.stop}). */
  readonly pullGraceMs: number;
}

/**
 * Returns the writer's stop, run once however often it is called. It stops pulling, then writes
 * the batches it holds and acknowledges what was written, until `timeoutMs`; past that, whatever
 * is not written is handed back unacknowledged for redelivery (README, "Guarantees").
 */
export const createShutdown = (deps: ShutdownDeps, settings: ShutdownSettings): (() => Promise<void>) => {
  const run = async () => {
    deps.stopProbing();
    await deps.puller.stop(settings.pullGraceMs);
    const cancelDeadline = new AbortController();
    const deadline = delay(settings.timeoutMs, undefined, { signal: cancelDeadline.signal }).then(
      () => deps.giveUp.abort(),
      () => {},
    );
    // Sends what waits for a slot, and releases the pull loop if it waits for room.
    const drained = deps.drain();
    await deps.puller.finished;
    await Promise.race([Promise.all([drained, ...deps.deadLettering()]), deadline]);
    cancelDeadline.abort();
    if (deps.giveUp.signal.aborted) {
      // Batches waiting to retry hand their messages back as soon as they see the abort; one turn
      // of the event loop lets them. A write still waiting on InfluxDB is not waited for.
      await delay(0);
      deps.log.warn("shutdown deadline passed; unwritten events were handed back");
    }
    deps.stopKeepingAlive();
    await deps.flush().catch((err: unknown) => deps.log.warn({ err }, "cannot flush acknowledgements"));
    deps.log.info("writer stopped");
  };
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= run();
    return stopped;
  };
};
