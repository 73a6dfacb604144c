import { readCommandLine, UsageError } from "@vigil/runtime";
import { EventRejectionCode } from "@vigil/shared";
import { type DeadLetterCode, STORAGE_REJECTED } from "../dead-letter.js";

/** Every code the writer puts in `Vigil-Reject-Code`, the values `--code` accepts. */
export const DEAD_LETTER_CODES: readonly DeadLetterCode[] = [...EventRejectionCode.options, STORAGE_REJECTED];

/** Records `list` prints when no `--limit` is given. */
export const DEFAULT_LIST_LIMIT = 20;

/** Most records one `list` prints; beyond it, page with `--from`. */
export const MAX_LIST_LIMIT = 10_000;

/** Which dead letters `replay` takes. */
export type ReplaySelection =
  | { readonly kind: "sequences"; readonly sequences: readonly number[] }
  | { readonly kind: "all"; readonly code: DeadLetterCode | undefined };

/** What the command line asks for. */
export type Command =
  | { readonly kind: "help" }
  | {
      readonly kind: "list";
      readonly limit: number;
      /** First DEADLETTERS sequence to show; undefined starts at the oldest record. */
      readonly from: number | undefined;
      readonly code: DeadLetterCode | undefined;
      readonly json: boolean;
    }
  | {
      readonly kind: "replay";
      readonly selection: ReplaySelection;
      /** Keep the records after replaying them. */
      readonly keep: boolean;
      /** Replay payloads that still break the event contract too. */
      readonly force: boolean;
    };

const FLAG_SPECS = {
  json: { type: "boolean" },
  all: { type: "boolean" },
  keep: { type: "boolean" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  limit: { type: "string" },
  from: { type: "string" },
  code: { type: "string" },
} as const;

/** Which flags each command takes. */
const ALLOWED: Record<"list" | "replay", readonly (keyof typeof FLAG_SPECS)[]> = {
  list: ["limit", "from", "code", "json"],
  replay: ["all", "code", "keep", "force"],
};

/** A positive integer in decimal, at most `max`. */
const positiveInteger = (name: string, text: string, max = Number.MAX_SAFE_INTEGER): number => {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new UsageError(`${name}: expected an integer from 1 to ${max}, got "${text}"`);
  }
  return value;
};

const deadLetterCode = (text: string | undefined): DeadLetterCode | undefined => {
  if (text === undefined) return undefined;
  const code = DEAD_LETTER_CODES.find((known) => known === text);
  if (code === undefined)
    throw new UsageError(`--code: expected one of ${DEAD_LETTER_CODES.join(", ")}, got "${text}"`);
  return code;
};

/** Reads the command line (without `node` and the script). Throws a {@link UsageError} naming what is wrong. */
export const parseCommand = (argv: readonly string[]): Command => {
  // `pnpm <script> -- args` may pass the separator through.
  const { flags, operands: positional } = readCommandLine(argv[0] === "--" ? argv.slice(1) : argv, FLAG_SPECS, {
    operands: true,
    rejectEmptyValues: true,
    rejectRepeats: true,
  });
  const value = (name: "limit" | "from" | "code") => {
    const given = flags.get(name);
    return typeof given === "string" ? given : undefined;
  };
  if (flags.has("help")) return { kind: "help" };
  const [command, ...operands] = positional;
  if (command === undefined) throw new UsageError("a command is required: list or replay; see --help");
  if (command !== "list" && command !== "replay") {
    throw new UsageError(`unknown command "${command}": expected list or replay; see --help`);
  }
  for (const flag of flags.keys()) {
    if (!(ALLOWED[command] as readonly string[]).includes(flag)) {
      throw new UsageError(`${command} does not take --${flag}; see --help`);
    }
  }
  const code = deadLetterCode(value("code"));

  if (command === "list") {
    if (operands.length > 0) throw new UsageError(`list takes no operands, got "${operands.join(" ")}"`);
    const limit = value("limit");
    const from = value("from");
    return {
      kind: "list",
      limit: limit === undefined ? DEFAULT_LIST_LIMIT : positiveInteger("--limit", limit, MAX_LIST_LIMIT),
      from: from === undefined ? undefined : positiveInteger("--from", from),
      code,
      json: flags.has("json"),
    };
  }

  const all = flags.has("all");
  if (all && operands.length > 0) throw new UsageError("replay takes either sequences or --all, not both");
  if (!all && operands.length === 0) {
    throw new UsageError("replay needs the sequences of the dead letters to replay, or --all");
  }
  if (!all && code !== undefined) throw new UsageError("--code selects records only with --all");
  const selection: ReplaySelection = all
    ? { kind: "all", code }
    : {
        kind: "sequences",
        // Once each, in the order given: replaying a record twice in one run would only find it gone.
        sequences: [...new Set(operands.map((operand) => positiveInteger("sequence", operand)))],
      };
  return { kind: "replay", selection, keep: flags.has("keep"), force: flags.has("force") };
};

/** The text of `--help`. */
export const USAGE = `Usage: vigil-deadletters list [--limit <n>] [--from <seq>] [--code <code>] [--json]
       vigil-deadletters replay <seq>... | --all [--code <code>]  [--keep] [--force]
       (from the repository: pnpm --filter @vigil/writer deadletters -- <command>)

Reads the dead-letter stream DEADLETTERS, where the writer records every message it can never
store, and puts records back on "events" once their cause is fixed.

list     prints the records oldest first: sequence, when and why it was rejected, and the
         start of the payload. Nothing is left behind on the server.
  --limit <n>    at most n records (default ${DEFAULT_LIST_LIMIT}, at most ${MAX_LIST_LIMIT})
  --from <seq>   start at this DEADLETTERS sequence (to page through many records)
  --code <code>  only records with this code: ${DEAD_LETTER_CODES.join(", ")}
  --json         one JSON document with every field and the full payload

replay   publishes each record's original payload to "events" through JetStream, waits for the
         stream to confirm it, then deletes the record. The publish carries Nats-Msg-Id
         replay-<seq>, so replaying a record again within the events stream's duplicate window
         (EVENTS_DUPLICATE_WINDOW, default 2m) stores it once; after that it would be a new event.
  <seq>...       the DEADLETTERS sequences to replay, as list prints them
  --all          every record there is when the command starts
  --code <code>  with --all: only records with this code
  --keep         keep the records after replaying them
  --force        also replay payloads that still break the event contract (the writer will
                 dead-letter them again); by default they are skipped and reported

Variables: NATS_URL, NATS_USER/NATS_PASSWORD, NATS_TOKEN (or NAME_FILE for each secret),
NATS_TLS_CA_FILE, NATS_INBOX_PREFIX, NATS_CONNECT_TIMEOUT_MS; DEADLETTERS_TIMEOUT (longest wait
for one JetStream request, default 10s); WRITER_MAX_EVENT_BYTES (largest payload the writers take,
default 8KiB: give the writers' value so that replay judges payloads as they will).

Exit codes: 0 done (records skipped as still invalid are printed and left in place);
            1 failed: NATS unreachable, a sequence given to replay is not in DEADLETTERS, or a
              publish or delete was not confirmed (replay stops there; running it again is safe)
            2 bad command line or setting`;
