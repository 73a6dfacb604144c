import type { NatsConnection } from "@nats-io/nats-core";
import {
  ConfigError,
  connectNats,
  createLogger,
  NoAnswerError,
  queryEvents,
  ReaderError,
  StartupError,
  sleep,
  UsageError,
  untilAborted,
} from "@vigil/runtime";
import type { SecurityEvent } from "@vigil/shared";
import { type ClientSettings, loadSettings, USAGE } from "./config.js";
import { renderHeading, renderTable } from "./render.js";

/** The client's exit codes. */
export const EXIT_CODES = {
  ok: 0,
  /** Anything not covered below, e.g. a reply that does not follow the contract. */
  unexpected: 1,
  badSetting: 2,
  /** NATS unreachable, no reader answering, or no reply in time. */
  noAnswer: 3,
  readerError: 4,
} as const;

/** Where the client prints, and what it knows about its terminal. */
export interface ClientIo {
  /** Normal output (stdout). */
  readonly out: (text: string) => void;
  /** Problems, one line each (stderr). */
  readonly err: (text: string) => void;
  /** Present when stdout is a terminal. */
  readonly terminal?: { readonly columns?: number | undefined } | undefined;
  /** Aborts on SIGINT/SIGTERM: the client stops asking and exits 0. */
  readonly signal: AbortSignal;
  readonly now?: () => Date;
}

const PROGRAM = "vigil-client";

/**
 * The whole command: reads the settings from `argv` and `env` (the process environment by
 * default), runs, and resolves with the exit code.
 */
export const runCli = async (argv: readonly string[], io: ClientIo, env?: NodeJS.ProcessEnv): Promise<number> => {
  let settings: ClientSettings;
  try {
    const invocation = loadSettings(argv, env);
    if (invocation.help) {
      io.out(USAGE);
      return EXIT_CODES.ok;
    }
    settings = invocation.settings;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.err(`${PROGRAM}: ${err.message}`);
      return EXIT_CODES.badSetting;
    }
    throw err;
  }
  return runClient(settings, io);
};

/** Asks once, or every `settings.repeatMs` until `io.signal` aborts; resolves with the exit code. */
export const runClient = (settings: ClientSettings, io: ClientIo): Promise<number> =>
  settings.repeatMs === 0 ? askOnce(settings, io) : askRepeatedly(settings, io);

const askOnce = async (settings: ClientSettings, io: ClientIo): Promise<number> => {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect(settings, settings.nats.NATS_CONNECT_TIMEOUT_MS, io.signal);
    const events = await untilAborted(queryEvents(nc, settings.query, settings.timeoutMs), io.signal);
    print(events, settings, io, false);
    return EXIT_CODES.ok;
  } catch (err) {
    if (io.signal.aborted) return EXIT_CODES.ok;
    io.err(`${PROGRAM}: ${describe(err)}`);
    return exitCode(err);
  } finally {
    await nc?.close();
  }
};

const askRepeatedly = async (settings: ClientSettings, io: ClientIo): Promise<number> => {
  const every = formatDuration(settings.repeatMs);
  const now = io.now ?? (() => new Date());
  let nc: NatsConnection | undefined;
  let failures = 0;
  let first = true;
  while (!io.signal.aborted) {
    try {
      if (nc === undefined || nc.isClosed()) {
        // Each attempt gets the request timeout, so that a missing NATS is reported as often as a missing reader.
        nc = await connect(settings, Math.min(settings.nats.NATS_CONNECT_TIMEOUT_MS, settings.timeoutMs), io.signal);
      }
      const events = await untilAborted(queryEvents(nc, settings.query, settings.timeoutMs), io.signal);
      if (failures > 0) {
        io.err(`${now().toISOString()} answers are back after ${failures} failed attempt${failures === 1 ? "" : "s"}`);
      }
      failures = 0;
      print(events, settings, io, !first);
      first = false;
    } catch (err) {
      if (io.signal.aborted) break;
      failures++;
      io.err(`${now().toISOString()} ${describe(err)}; retrying in ${every}`);
    }
    await sleep(settings.repeatMs, io.signal);
  }
  await nc?.close();
  return EXIT_CODES.ok;
};

const print = (events: readonly SecurityEvent[], settings: ClientSettings, io: ClientIo, repeated: boolean) => {
  if (settings.output === "json") {
    // One document per query; in repeat mode one line each, so that a reader of the stream can split it.
    io.out(settings.repeatMs === 0 ? JSON.stringify(events, null, 2) : JSON.stringify(events));
    return;
  }
  const color = io.terminal !== undefined && settings.colorAllowed;
  const width = io.terminal?.columns;
  if (repeated) io.out("");
  io.out(renderHeading(settings.query, (io.now ?? (() => new Date()))(), color));
  io.out(renderTable(events, { color, ...(width === undefined ? {} : { width }) }));
};

/** Connects to NATS, giving up after `budgetMs` or when `signal` aborts. */
const connect = async (settings: ClientSettings, budgetMs: number, signal: AbortSignal): Promise<NatsConnection> => {
  // The connection's own progress is no concern of a one-shot command: failures come back as errors.
  const quiet = createLogger(PROGRAM, "silent");
  const connecting = connectNats({ ...settings.nats, NATS_CONNECT_TIMEOUT_MS: budgetMs }, PROGRAM, quiet);
  try {
    return await untilAborted(connecting, signal);
  } catch (err) {
    // Stopped while connecting: close the connection if it still comes up.
    if (signal.aborted) void connecting.then((nc) => nc.close()).catch(() => {});
    throw err;
  }
};

const describe = (err: unknown): string => {
  if (err instanceof NoAnswerError) {
    return err.reason === "no-reader" ? `${err.message} (is a reader running?)` : err.message;
  }
  if (err instanceof ReaderError || err instanceof StartupError) return err.message;
  return `unexpected failure: ${err instanceof Error ? err.message : String(err)}`;
};

const exitCode = (err: unknown): number => {
  if (err instanceof NoAnswerError || err instanceof StartupError) return EXIT_CODES.noAnswer;
  if (err instanceof ReaderError) return EXIT_CODES.readerError;
  return EXIT_CODES.unexpected;
};

const formatDuration = (ms: number): string => (ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`);
