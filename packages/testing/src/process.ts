import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

/** Asks the kernel for a free loopback TCP port. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()));
    });
  });

/** Thrown by a probe when waiting longer cannot help (the process died): ends {@link waitFor} at once. */
export class WaitAbortedError extends Error {
  override readonly name = "WaitAbortedError";
}

/**
 * Polls `probe` until it returns true or `timeoutMs` passes; throws with `what` on timeout. Other
 * errors from the probe count as "not yet", except {@link WaitAbortedError}, which is rethrown.
 */
export const waitFor = async (
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      if (err instanceof WaitAbortedError) throw err;
      lastError = err;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${reason}`);
};

const running = new Set<ChildProcess>();
// A test run that dies must not leave servers behind.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** A child process whose output is kept for error messages. */
export interface ManagedProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited(): Promise<number | null>;
  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Spawns a server process, keeping the last 64 KiB of its output. */
export const spawnManaged = (command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ManagedProcess => {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
  running.add(child);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-65_536);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exit = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    });
    child.once("error", (err) => {
      running.delete(child);
      output += `\n${err.message}`;
      resolve(null);
    });
  });
  return {
    child,
    output: () => output,
    exited: () => exit,
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exit;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
};
