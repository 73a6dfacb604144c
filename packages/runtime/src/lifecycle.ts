import type { Logger } from "pino";
import { createLogger } from "./logger.js";

/** What `main.ts` hands to {@link runService}: how to start, and how to stop once started. */
export interface ServiceLifecycle {
  /** Starts the service; resolves to the function that stops it. */
  start(): Promise<() => Promise<void>>;
  /** How long stopping may take before the process exits anyway, in milliseconds. */
  readonly shutdownTimeoutMs: number;
}

/** The parts of `process` that {@link runService} uses; tests pass their own. */
export interface ServiceHost {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

/**
 * The one line every service logs when it cannot start, whether its settings are wrong or a
 * dependency refused it; then the process exits 1.
 */
export const failStartup = (log: Logger, err: unknown, host: Pick<ServiceHost, "exit"> = process): void => {
  log.fatal({ err }, `start-up failed: ${err instanceof Error ? err.message : String(err)}`);
  host.exit(1);
};

/**
 * Reads a service's configuration with `load` (its `loadConfig`), or, when that throws, logs
 * the start-up failure line with a logger named after `service` and exits 1.
 */
export const loadConfigOrExit = <Config>(service: string, load: () => Config): Config => {
  try {
    return load();
  } catch (err) {
    failStartup(createLogger(service), err);
    // process.exit does not return; this satisfies the type checker and a host that does.
    throw err;
  }
};

/**
 * Owns the process: starts the service, and on SIGINT/SIGTERM stops it and exits 0 (1 when
 * stopping failed or overran the deadline). A start-up failure exits 1 with one clear log line.
 * A signal that arrives while the service is still starting is not lost and does not cut the
 * start short: once start-up ends the service is stopped (exit 0), or, if it failed, the failure
 * is reported (exit 1). The shutdown deadline runs from the signal on.
 */
export const runService = async (
  log: Logger,
  lifecycle: ServiceLifecycle,
  host: ServiceHost = process,
): Promise<void> => {
  let stopping = false;
  let exited = false;
  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    host.exit(code);
  };
  const starting = lifecycle.start();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      exit(1);
      return;
    }
    stopping = true;
    log.info({ signal }, "stopping");
    const deadline = setTimeout(() => {
      log.error({ timeoutMs: lifecycle.shutdownTimeoutMs }, "shutdown overran its deadline; exiting");
      exit(1);
    }, lifecycle.shutdownTimeoutMs);
    deadline.unref();
    starting.then(
      (stop) =>
        stop().then(
          () => {
            clearTimeout(deadline);
            log.info("stopped");
            exit(0);
          },
          (err: unknown) => {
            clearTimeout(deadline);
            log.error({ err }, "shutdown failed");
            exit(1);
          },
        ),
      // The start-up failure is reported below.
      () => clearTimeout(deadline),
    );
  };
  host.on("SIGINT", onSignal);
  host.on("SIGTERM", onSignal);
  try {
    await starting;
  } catch (err) {
    failStartup(log, err, { exit });
  }
};
