import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { type LogLine, parseLogLine } from "./log-sink.js";

/**
 * Asks the kernel for a loopback TCP port that is free now. Only for an address where nothing
 * should listen (a "nowhere" URL): a server must bind port 0 itself and report the port, since a
 * port probed free here can be taken by another process before it is bound.
 */
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

/** A child process whose output is kept for assertions and error messages. */
export interface ManagedProcess {
  readonly child: ChildProcess;
  /** Its stdout and stderr, interleaved as they came. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Every JSON line it wrote on stdout (a service's pino log), parsed, from the start. */
  logs(): readonly LogLine[];
  /** Resolves with the exit code once the process has exited. */
  exited(): Promise<number | null>;
  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  readonly cwd?: string;
  /** How much of each of output, stdout and stderr to keep: the last this many characters. */
  readonly keepChars?: number;
}

/** Spawns a process, keeping the last 64 KiB of its output (see {@link SpawnOptions.keepChars}). */
export const spawnManaged = (
  command: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
  { cwd, keepChars = 65_536 }: SpawnOptions = {},
): ManagedProcess => {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: env ?? process.env,
    ...(cwd === undefined ? {} : { cwd }),
  });
  running.add(child);
  const kept = { output: "", stdout: "", stderr: "" };
  const keep = (stream: "stdout" | "stderr", chunk: Buffer) => {
    const text = chunk.toString();
    kept.output = (kept.output + text).slice(-keepChars);
    kept[stream] = (kept[stream] + text).slice(-keepChars);
  };
  const logs: LogLine[] = [];
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    keep("stdout", chunk);
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const parsed = parseLogLine(line);
      if (parsed !== undefined) logs.push(parsed);
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => keep("stderr", chunk));
  // "close", not "exit": the exit code arrives once all the output has been read.
  const exit = new Promise<number | null>((resolve) => {
    child.once("close", (code) => {
      running.delete(child);
      resolve(code);
    });
    child.once("error", (err) => {
      running.delete(child);
      kept.output += `\n${err.message}`;
      kept.stderr += `\n${err.message}`;
      resolve(null);
    });
  });
  return {
    child,
    output: () => kept.output,
    stdout: () => kept.stdout,
    stderr: () => kept.stderr,
    logs: () => logs,
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

/** How a process ended and everything it printed. */
export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command (a CLI, a service that exits by itself) to its end, keeping all of its output. */
export const runToExit = async (
  command: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
  options: Omit<SpawnOptions, "keepChars"> = {},
): Promise<ProcessResult> => {
  const proc = spawnManaged(command, args, env, { ...options, keepChars: Number.POSITIVE_INFINITY });
  const code = await proc.exited();
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
};

/** A test server that can be stopped and started again on its data, then removed. */
export interface RestartableServer {
  /** Stops the server (SIGTERM, or SIGKILL with `kill`), keeping its data. */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes `dir`, its data. */
  dispose(): Promise<void>;
}

/** Launches a server with `launch` (which resolves once it answers) and controls it from then on. */
export const startRestartable = async (
  launch: () => Promise<ManagedProcess>,
  dir: string,
): Promise<RestartableServer> => {
  let server: ManagedProcess | undefined = await launch();
  return {
    async stop({ kill = false } = {}) {
      await server?.stop(kill ? "SIGKILL" : "SIGTERM");
      server = undefined;
    },
    async start() {
      server = await launch();
    },
    async dispose() {
      await server?.stop("SIGKILL");
      server = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
};
