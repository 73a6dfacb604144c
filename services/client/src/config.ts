import {
  durationVar,
  NATS_SECRETS,
  NatsEnv,
  parseDuration,
  parseEnv,
  readCommandLine,
  UsageError,
} from "@vigil/runtime";
import { DEFAULT_QUERY_LIMIT, type EventsQuery, MAX_QUERY_LIMIT } from "@vigil/shared";
import { z } from "zod";

/** An integer given as text, bounded to `[min, max]`, with one message that names the bounds. */
const integerText = (min: number, max: number) => {
  const expected =
    min === Number.MIN_SAFE_INTEGER ? "expected an integer such as 5" : `expected an integer from ${min} to ${max}`;
  return z.string().transform((text, ctx) => {
    const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: "custom", message: `${expected}, got "${text}"` });
      return z.NEVER;
    }
    return value;
  });
};

/** Most and least time between repeated queries. */
const REPEAT_RANGE_MS = { min: 100, max: 86_400_000 };

/** `0` (run once) or a duration such as `5s`. */
const repeatText = z.string().transform((text, ctx) => {
  if (text.trim() === "0") return 0;
  const ms = parseDuration(text);
  if (ms === undefined || ms < REPEAT_RANGE_MS.min || ms > REPEAT_RANGE_MS.max) {
    ctx.addIssue({
      code: "custom",
      message: `expected 0 (run once) or a duration from 100ms to 24h such as 5s or 1m, got "${text}"`,
    });
    return z.NEVER;
  }
  return ms;
});

const FIELDS = {
  minCriticality: integerText(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  limit: integerText(1, MAX_QUERY_LIMIT),
  repeat: repeatText,
};

/** The client's own variables (the NATS ones come from `NatsEnv`). */
export const ClientEnv = z.object({
  /** Threshold: only events with a criticality strictly above it are shown. Required unless `--min-criticality`. */
  CLIENT_MIN_CRITICALITY: FIELDS.minCriticality.optional(),
  /** How many events to ask for. */
  CLIENT_LIMIT: FIELDS.limit.default(DEFAULT_QUERY_LIMIT),
  /** How long to wait for the reader's answer. */
  CLIENT_TIMEOUT: durationVar("10s", 100, 600_000),
  /** Ask again every this long; `0` asks once. */
  CLIENT_REPEAT: FIELDS.repeat.default(0),
  CLIENT_OUTPUT: z.enum(["table", "json"]).default("table"),
  /** Set (to anything) to keep colour codes off even on a terminal; see no-color.org. */
  NO_COLOR: z.string().optional(),
});
export type ClientEnv = z.infer<typeof ClientEnv>;

// NatsEnv refines across its fields, so it is intersected rather than spread.
const Env = NatsEnv.and(ClientEnv);

/** How one run of the client behaves. */
export interface ClientSettings {
  readonly nats: NatsEnv;
  readonly query: EventsQuery;
  readonly timeoutMs: number;
  /** Milliseconds between queries; 0 asks once. */
  readonly repeatMs: number;
  readonly output: "table" | "json";
  /** False when `NO_COLOR` is set; colour is used only on a terminal anyway. */
  readonly colorAllowed: boolean;
}

/** The flags as given, before validation. */
export interface Flags {
  readonly json?: boolean;
  readonly help?: boolean;
  readonly every?: string;
  readonly minCriticality?: string;
  readonly limit?: string;
}

const FLAG_SPECS = {
  "min-criticality": { type: "string" },
  limit: { type: "string" },
  every: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Splits the command line into flags; throws a {@link UsageError} naming the first wrong argument. */
export const parseArguments = (argv: readonly string[]): Flags => {
  const { flags } = readCommandLine(argv, FLAG_SPECS);
  const text = (name: keyof typeof FLAG_SPECS) => {
    const value = flags.get(name);
    return typeof value === "string" ? value : undefined;
  };
  const given = {
    json: flags.has("json") ? true : undefined,
    help: flags.has("help") ? true : undefined,
    every: text("every"),
    minCriticality: text("min-criticality"),
    limit: text("limit"),
  };
  return Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as Flags;
};

/** What the command line asks for: the usage text, or a run with these settings. */
export type Invocation = { readonly help: true } | { readonly help: false; readonly settings: ClientSettings };

/**
 * Resolves the settings from the command line and the environment, flags winning over variables.
 * Throws a {@link UsageError} naming the flag, or a `ConfigError` naming the variable, that is wrong.
 */
export const loadSettings = (argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Invocation => {
  const flags = parseArguments(argv);
  if (flags.help === true) return { help: true };
  // A variable that a flag overrides is ignored, so that a flag can fix a bad variable.
  const remaining: NodeJS.ProcessEnv = { ...env };
  if (flags.minCriticality !== undefined) delete remaining.CLIENT_MIN_CRITICALITY;
  if (flags.limit !== undefined) delete remaining.CLIENT_LIMIT;
  if (flags.every !== undefined) delete remaining.CLIENT_REPEAT;
  // Flags first: the user just typed them.
  const minCriticality = flag("--min-criticality", FIELDS.minCriticality, flags.minCriticality);
  const limit = flag("--limit", FIELDS.limit, flags.limit);
  const repeatMs = flag("--every", FIELDS.repeat, flags.every);
  const parsed = parseEnv(Env, remaining, NATS_SECRETS);
  const threshold = minCriticality ?? parsed.CLIENT_MIN_CRITICALITY;
  if (threshold === undefined) {
    throw new UsageError(
      "CLIENT_MIN_CRITICALITY is not set: give the threshold (events above it are shown) in it or in --min-criticality",
    );
  }
  return {
    help: false,
    settings: Object.freeze({
      nats: parsed,
      query: Object.freeze({
        minCriticality: threshold,
        limit: limit ?? parsed.CLIENT_LIMIT,
      }),
      timeoutMs: parsed.CLIENT_TIMEOUT,
      repeatMs: repeatMs ?? parsed.CLIENT_REPEAT,
      output: flags.json === true ? "json" : parsed.CLIENT_OUTPUT,
      colorAllowed: parsed.NO_COLOR === undefined,
    }),
  };
};

const flag = <T>(name: string, field: z.ZodType<T, string>, value: string | undefined): T | undefined => {
  if (value === undefined) return undefined;
  const parsed = field.safeParse(value);
  if (!parsed.success) throw new UsageError(`${name}: ${parsed.error.issues.map((issue) => issue.message).join("; ")}`);
  return parsed.data;
};

/** The text of `--help`. */
export const USAGE = `Usage: vigil-client [--min-criticality <n>] [--limit <n>] [--every <duration>] [--json] [--help]

Asks a Vigil reader over NATS for the newest events whose criticality is strictly above a
threshold, and prints them as a table (or as JSON).

Flags, each overriding the variable beside it:
  --min-criticality <n>  CLIENT_MIN_CRITICALITY  the threshold, an integer (required)
  --limit <n>            CLIENT_LIMIT            how many events, 1 to ${MAX_QUERY_LIMIT} (default ${DEFAULT_QUERY_LIMIT})
  --every <duration>     CLIENT_REPEAT           ask again every <duration>, e.g. 5s (default 0: ask once)
  --json                 CLIENT_OUTPUT=json      print the events as JSON (default: a table)
  --help                                         print this text

Other variables: CLIENT_TIMEOUT (how long to wait for an answer, default 10s), NATS_URL,
NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_TLS_CA_FILE, NATS_CONNECT_TIMEOUT_MS, NO_COLOR.

Exit codes: 0 success (also: no matching events, or stopped by SIGINT/SIGTERM)
            1 unexpected failure (e.g. a reply that does not follow the contract)
            2 bad setting or flag
            3 no answer: NATS unreachable, no reader answering, or no reply within CLIENT_TIMEOUT
            4 the reader answered with an error (its code and message are printed)
With --every, failures do not exit: each failed attempt prints one line and the client keeps asking.`;
