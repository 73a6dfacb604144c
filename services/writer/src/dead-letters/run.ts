import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ConfigError, connectNats, createLogger, UsageError } from "@vigil/runtime";
import { EVENTS_SUBJECT } from "@vigil/shared";
import { type Command, parseCommand, USAGE } from "./arguments.js";
import { type DeadLettersConfig, loadConfig } from "./config.js";
import { listDeadLetters } from "./list.js";
import { pageJson, type ReplayTally, renderOutcome, renderPage, renderTally } from "./render.js";
import { replayDeadLetters } from "./replay.js";
import { createDeadLetterStore } from "./store.js";

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

/**
 * The whole command: reads the command line and `env` (the process environment by default),
 * runs it, and resolves with the exit code.
 */
export const runDeadLettersCli = async (
  argv: readonly string[],
  io: CliIo,
  env?: NodeJS.ProcessEnv,
): Promise<number> => {
  let command: Command;
  let config: DeadLettersConfig;
  try {
    command = parseCommand(argv);
    if (command.kind === "help") {
      io.out(USAGE);
      return EXIT_CODES.ok;
    }
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.err(`${PROGRAM}: ${err.message}`);
      return EXIT_CODES.usage;
    }
    throw err;
  }

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
  } catch (err) {
    io.err(`${PROGRAM}: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT_CODES.failed;
  } finally {
    await nc?.close();
  }
};
