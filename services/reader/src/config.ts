import { readFileSync } from "node:fs";
import { type InfluxConfig, InfluxEnv, influxConfigFromEnv } from "@vigil/influx";
import {
  bytesVar,
  DEFAULT_OPS_PORTS,
  durationVar,
  intVar,
  LogLevel,
  NATS_SECRETS,
  NatsEnv,
  type OpsEnv,
  opsEnv,
  parseDuration,
  parseEnv,
} from "@vigil/runtime";
import { z } from "zod";
import { DEFAULT_AGGREGATE_SLICES, MAX_AGGREGATE_SLICES } from "./aggregate-slices.js";
import { checkQueryWindows, DEFAULT_QUERY_WINDOWS, MAX_QUERY_WINDOWS } from "./query-windows.js";

/** Longest window READER_QUERY_WINDOWS takes: ten years; past the last window a query is unbounded anyway. */
const MAX_WINDOW_MS = 3_650 * 86_400_000;

/** Comma-separated widening durations, or `none`; in milliseconds. */
const queryWindowsVar = z
  .string()
  .default(DEFAULT_QUERY_WINDOWS)
  .transform((text, ctx) => {
    const windows = text.trim() === "none" ? [] : text.split(",").map((part) => parseDuration(part) ?? Number.NaN);
    const problem =
      windows.length > MAX_QUERY_WINDOWS
        ? `at most ${MAX_QUERY_WINDOWS} windows`
        : windows.some((ms) => Number.isNaN(ms) || ms > MAX_WINDOW_MS)
          ? `every window a duration up to ${MAX_WINDOW_MS / 86_400_000}d such as 1h or 7d`
          : checkQueryWindows(windows);
    if (problem !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: `expected "none" or widening durations such as ${DEFAULT_QUERY_WINDOWS} (${problem}), got "${text}"`,
      });
      return z.NEVER;
    }
    return Object.freeze(windows);
  });

/** Settings only the reader has. */
export const ReaderEnv = z.object({
  LOG_LEVEL: LogLevel.default("info"),
  /**
   * Longest a request waits for its answer, queueing included; also the timeout of every
   * InfluxDB request the reader makes. Keep it below the clients' request timeout so that a slow
   * InfluxDB yields an error reply rather than a client-side timeout.
   */
  READER_QUERY_TIMEOUT: durationVar("5s", 100, 600_000),
  /** Queries sent to InfluxDB at once by one reader. */
  READER_MAX_CONCURRENT: intVar(32, 1, 10_000),
  /** Requests waiting for a free query slot; beyond it the reader answers "reader overloaded". */
  READER_MAX_QUEUED: intVar(1_000, 0, 1_000_000),
  /**
   * Bytes all requests together may hold at once: each request reserves the most InfluxDB's answer
   * to it can take (8 KiB per event asked for, up to READER_MAX_ANSWER_BYTES) before its query
   * runs, and gives them back once its reply has left. Requests that do not fit wait (within
   * READER_QUERY_TIMEOUT, at most READER_MAX_QUEUED of them). The reader's memory grows with it.
   */
  READER_MAX_BYTES_IN_FLIGHT: bytesVar("32MiB", 64 * 1024, 16 * 1024 * 1024 * 1024),
  /** Most bytes of one InfluxDB answer; past it reading stops and the reply is PAYLOAD_TOO_LARGE. */
  READER_MAX_ANSWER_BYTES: bytesVar("8MiB", 16 * 1024, 1024 * 1024 * 1024),
  /**
   * How far back `events.query` reads first, and then while fewer than `limit` events came back,
   * before a last unbounded query (query-windows.ts); `none` asks the unbounded query alone.
   */
  READER_QUERY_WINDOWS: queryWindowsVar,
  /**
   * How many queries, over consecutive equal parts of its window, count one `events.aggregates`
   * request at once (aggregate-slices.ts): InfluxDB counts one query on one core. Each part takes a
   * query slot (READER_MAX_CONCURRENT); 1 counts the window in one query.
   */
  READER_AGGREGATE_SLICES: intVar(DEFAULT_AGGREGATE_SLICES, 1, MAX_AGGREGATE_SLICES),
  /** How often InfluxDB is pinged to keep readiness current between queries. */
  READER_HEALTH_INTERVAL: durationVar("10s", 100, 3_600_000),
  /** How long stopping (finish in-flight requests, drain NATS) may take before the process exits anyway. */
  READER_SHUTDOWN_TIMEOUT: durationVar("15s", 1_000, 600_000),
});
export type ReaderEnv = z.infer<typeof ReaderEnv>;

// NatsEnv and InfluxEnv refine across their fields, so they are intersected rather than spread.
const Env = NatsEnv.and(InfluxEnv).and(opsEnv(DEFAULT_OPS_PORTS.reader)).and(ReaderEnv);

/** The reader's own behaviour, independent of where its dependencies live. */
export interface ReaderSettings {
  /** Reported by `$SRV.INFO` and `$SRV.PING`. */
  readonly version: string;
  readonly queryTimeoutMs: number;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  /** Bytes all requests together may hold at once (byte-budget.ts). */
  readonly maxBytesInFlight: number;
  /** Most bytes of one InfluxDB answer, never more than {@link maxBytesInFlight} in effect. */
  readonly maxAnswerBytes: number;
  /** The windows `events.query` reads newest first, in milliseconds, ascending; empty: unbounded only. */
  readonly queryWindowsMs: readonly number[];
  /** How many parts `events.aggregates` counts its window in, at once (aggregate-slices.ts). */
  readonly aggregateSlices: number;
  readonly healthIntervalMs: number;
}

/** Everything the reader needs, parsed once. */
export interface ReaderConfig {
  readonly logLevel: LogLevel;
  readonly nats: NatsEnv;
  readonly ops: OpsEnv;
  readonly influx: InfluxConfig;
  readonly settings: ReaderSettings;
  readonly shutdownTimeoutMs: number;
}

/**
 * The version the reader reports to NATS service discovery: its package's version. package.json
 * sits one folder above both `src/` and `dist/`, in the repository and in the image alike.
 */
export const READER_VERSION: string = z
  .object({ version: z.string().min(1) })
  .parse(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))).version;

/** Reads the configuration from `env`; throws a `ConfigError` naming every variable that is wrong. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): ReaderConfig => {
  const parsed = parseEnv(Env, env, [...NATS_SECRETS, "INFLUX_TOKEN", "INFLUX_PASSWORD"]);
  return Object.freeze({
    logLevel: parsed.LOG_LEVEL,
    nats: parsed,
    ops: parsed,
    // One timeout for every InfluxDB request of the reader, so that no query outlives the answer
    // already sent for it; INFLUX_TIMEOUT_MS is therefore not used by the reader.
    influx: { ...influxConfigFromEnv(parsed), timeoutMs: parsed.READER_QUERY_TIMEOUT },
    settings: Object.freeze({
      version: READER_VERSION,
      queryTimeoutMs: parsed.READER_QUERY_TIMEOUT,
      maxConcurrent: parsed.READER_MAX_CONCURRENT,
      maxQueued: parsed.READER_MAX_QUEUED,
      maxBytesInFlight: parsed.READER_MAX_BYTES_IN_FLIGHT,
      maxAnswerBytes: parsed.READER_MAX_ANSWER_BYTES,
      queryWindowsMs: parsed.READER_QUERY_WINDOWS,
      aggregateSlices: parsed.READER_AGGREGATE_SLICES,
      healthIntervalMs: parsed.READER_HEALTH_INTERVAL,
    }),
    shutdownTimeoutMs: parsed.READER_SHUTDOWN_TIMEOUT,
  });
};
