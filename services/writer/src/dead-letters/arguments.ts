import { EventRejectionCode } from "@vigil/shared";
import { type DeadLetterCode, STORAGE_REJECTED } from "../dead-letter.js";

/** The command line is wrong: an unknown command or flag, a missing or bad value. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

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

const SWITCHES = ["--json", "--all", "--keep", "--force", "--help", "-h"] as const;
const VALUE_FLAGS = ["--limit", "--from", "--code"] as const;
type Switch = (typeof SWITCHES)[number];
type ValueFlag = (typeof VALUE_FLAGS)[number];

/** Which flags each command takes. */
const ALLOWED: Record<"list" | "replay", readonly string[]> = {
  list: ["--limit", "--from", "--code", "--json"],
  replay: ["--all", "--code", "--keep", "--force"],
};

interface Parsed {
  readonly positional: string[];
  readonly switches: Set<Switch>;
  readonly values: Map<ValueFlag, string>;
}

const isSwitch = (name: string): name is Switch => (SWITCHES as readonly string[]).includes(name);
const isValueFlag = (name: string): name is ValueFlag => (VALUE_FLAGS as readonly string[]).includes(name);

const split = (argv: readonly string[]): Parsed => {
  const parsed: Parsed = { positional: [], switches: new Set(), values: new Map() };
  // `pnpm <script> -- args` may pass the separator through.
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string;
    if (!arg.startsWith("-")) {
      parsed.positional.push(arg);
      continue;
    }
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = equals > 0 ? arg.slice(0, equals) : arg;
    if (isSwitch(name)) {
      if (equals > 0) throw new UsageError(`${name} takes no value`);
      parsed.switches.add(name);
    } else if (isValueFlag(name)) {
      const value = equals > 0 ? arg.slice(equals + 1) : args[++index];
      if (value === undefined || value === "") throw new UsageError(`${name} needs a value; see --help`);
      if (parsed.values.has(name)) throw new UsageError(`${name} is given twice`);
      parsed.values.set(name, value);
    } else {
      throw new UsageError(`unknown flag ${name}; see --help`);
    }
  }
  return parsed;
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
  const { positional, switches, values } = split(argv);
  if (switches.has("--help") || switches.has("-h")) return { kind: "help" };
  const [command, ...operands] = positional;
  if (command === undefined) throw new UsageError("a command is required: list or replay; see --help");
  if (command !== "list" && command !== "replay") {
    throw new UsageError(`unknown command "${command}": expected list or replay; see --help`);
  }
  for (const flag of [...switches, ...values.keys()]) {
    if (!ALLOWED[command].includes(flag)) throw new UsageError(`${command} does not take ${flag}; see --help`);
  }
  const code = deadLetterCode(values.get("--code"));

  if (command === "list") {
    if (operands.length > 0) throw new UsageError(`list takes no operands, got "${operands.join(" ")}"`);
    const limit = values.get("--limit");
    const from = values.get("--from");
    return {
      kind: "list",
      limit: limit === undefined ? DEFAULT_LIST_LIMIT : positiveInteger("--limit", limit, MAX_LIST_LIMIT),
      from: from === undefined ? undefined : positiveInteger("--from", from),
      code,
      json: switches.has("--json"),
    };
  }

  const all = switches.has("--all");
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
  return { kind: "replay", selection, keep: switches.has("--keep"), force: switches.has("--force") };
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
