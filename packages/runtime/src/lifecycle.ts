import type { Logger } from "pino";

/** What `main.ts` hands to {@link runService}: how to start, and how to stop once started. */
export interface ServiceLifecycle {
  /** Starts the service; resolves to the function that stops it. */
  start(): Promise<() => Promise<void>>;
  /** How long stopping may take before the process exits anyway, in milliseconds. */
  readonly shutdownTimeoutMs: number;
}

/**
 * Owns the process: starts the service, and on SIGINT/SIGTERM stops it and exits 0 (1 when
 * stopping failed or overran the deadline). A start-up failure exits 1 with one clear log line.
 */
export const runService = async (log: Logger, lifecycle: ServiceLifecycle): Promise<void> => {
  let stop: (() => Promise<void>) | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "stopping");
    const deadline = setTimeout(() => {
      log.error({ timeoutMs: lifecycle.shutdownTimeoutMs }, "shutdown overran its deadline; exiting");
      process.exit(1);
    }, lifecycle.shutdownTimeoutMs);
    deadline.unref();
    (stop ?? (async () => {}))()
      .then(() => {
        log.info("stopped");
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    stop = await lifecycle.start();
  } catch (err) {
    log.fatal({ err }, `start-up failed: ${(err as Error).message}`);
    process.exit(1);
  }
};
