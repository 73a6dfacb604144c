import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ConfigError, connectNats, createLogger, UsageError } from "@vigil/runtime";
import { EVENTS_SUBJECT } from "@vigil/shared";
import { type Command, parseCommand, USAGE } from "./arguments.js";
import { type DeadLettersConfig, loadConfig } from "./config.js";
import { listDeadLetters } from "./list.js";
import { pageJson, type ReplayTally, renderOutcome, renderPage, renderTally } from "./render.js";
import { replayDeadLetters } from "./replay.js";
import { createDeadLetterStore, type DeadLetterStore } from "./store.js";

/** The command's exit codes. */
export const EXIT_CODES = {
  ok: 0,
  /** NATS unreachable, a request failed, or replay could not replay a record it was given. */
  failed: 1,
  usage: 2,
} as const;

/** Where the command prints. */
export interface CliIo {
  /** Normal output (stdout). */
  readonly out: (text: string) => void;
  /** Problems, one line each (stderr). */
  readonly err: (text: string) => void;
}

const PROGRAM = "vigil-deadletters";

type Task = Exclude<Command, { readonly kind: "help" }>;
type ReplayTask = Extract<Command, { readonly kind: "replay" }>;

/**
 * Reads the command line and `env`. Returns the exit code when there is nothing to run (help was
 * asked for, or the command line or environment is wrong, said on `io.err`); otherwise the task.
 */
export const readInvocation = (
  argv: readonly string[],
  io: CliIo,
  env?: NodeJS.ProcessEnv,
): number | { readonly command: Task; readonly config: DeadLettersConfig } => {
  try {
    const command = parseCommand(argv);
    if (command.kind === "help") {
      io.out(USAGE);
      return EXIT_CODES.ok;
    }
    return { command, config: loadConfig(env) };
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.err(`${PROGRAM}: ${err.message}`);
      return EXIT_CODES.usage;
    }
    throw err;
  }
};

/**
 * The whole command: reads the command line and `env` (the process environment by default),
 * runs it, and resolves with the exit code.
 */
export const runDeadLettersCli = async (
  argv: readonly string[],
  io: CliIo,
  env?: NodeJS.ProcessEnv,
): Promise<number> => {
  const invocation = readInvocation(argv, io, env);
  if (typeof invocation === "number") return invocation;
  const { command, config } = invocation;
  let nc: NatsConnection | undefined;
  try {
    // A one-shot command reports failures itself; the connection's own progress is not for the user.
    nc = await connectNats(config.nats, PROGRAM, createLogger(PROGRAM, "silent"));
    const js = jetstream(nc, { timeout: config.timeoutMs });
    const store = createDeadLetterStore(
      await jetstreamManager(nc, { timeout: config.timeoutMs }),
      js,
      config.timeoutMs,
    );
    if (command.kind === "list") {
      const page = await listDeadLetters(store, command);
      io.out(command.json ? JSON.stringify(pageJson(page), null, 2) : renderPage(page, command));
      return EXIT_CODES.ok;
    }
    return await replay(command, { store, js, config }, io);
  } catch (err) {
    io.err(`${PROGRAM}: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_CODES.failed;
  } finally {
    await nc?.close();
  }
};

/** Replays what `command` selects, printing a line per record and the tally; resolves with the exit code. */
const replay = async (
  command: ReplayTask,
  { store, js, config }: { store: DeadLetterStore; js: JetStreamClient; config: DeadLettersConfig },
  io: CliIo,
): Promise<number> => {
  const tally: ReplayTally = { replayed: 0, skipped: 0, missing: 0, failed: 0 };
  const publish = async (payload: Uint8Array, msgId: string) => {
    const ack = await js.publish(EVENTS_SUBJECT, payload, { msgID: msgId, timeout: config.timeoutMs });
    return { seq: ack.seq, duplicate: ack.duplicate };
  };
  await replayDeadLetters(
    { store, publish, maxEventBytes: config.maxEventBytes },
    command.selection,
    command,
    (outcome) => {
      tally[outcome.kind]++;
      const line = renderOutcome(outcome);
      if (outcome.kind === "missing" || outcome.kind === "failed") io.err(line);
      else io.out(line);
    },
  );
  io.out(renderTally(tally));
  return tally.missing + tally.failed > 0 ? EXIT_CODES.failed : EXIT_CODES.ok;
};
