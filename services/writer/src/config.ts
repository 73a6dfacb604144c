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
  parseEnv,
  StreamEnv,
  type StreamsAccess,
  StreamsAccessEnv,
  streamLimits,
  streamsAccess,
} from "@vigil/runtime";
import { MAX_EVENT_BYTES } from "@vigil/shared";
import { z } from "zod";
import { WriterConsumerEnv, type WriterConsumerSettings, writerConsumerSettings } from "./consumer.js";

/** Settings only the writer has. */
export const WriterEnv = z.object({
  LOG_LEVEL: LogLevel.default("info"),
  /** Events per InfluxDB write; a batch is sent as soon as it is this full. */
  WRITER_BATCH_SIZE: intVar(5_000, 1, 100_000),
  /**
   * Longest an event waits in a batch that is not yet full while a write is in flight; with none in
   * flight a batch goes at once (batcher.ts).
   */
  WRITER_FLUSH_INTERVAL: durationVar("100ms", 1, 60_000),
  /**
   * `true`: a batch that is not full goes as soon as no write is in flight (low latency, more and
   * smaller writes at moderate rates); `false`: only once full or after WRITER_FLUSH_INTERVAL.
   */
  WRITER_FLUSH_WHEN_IDLE: z.enum(["true", "false"]).default("true"),
  /** Batches written at once; one being written while the next fills keeps both sides busy. */
  WRITER_MAX_CONCURRENT_WRITES: intVar(2, 1, 64),
  /**
   * Messages requested from the consumer per pull (`consume({ max_messages })`). Defaults to the
   * smaller of the batch size and WRITER_MAX_IN_FLIGHT; it may not exceed WRITER_MAX_IN_FLIGHT.
   */
  WRITER_PULL_BATCH: z.coerce.number().int().min(1).max(1_000_000).optional(),
  /** Largest payload accepted as an event; larger ones are dead-lettered as TOO_LARGE. */
  WRITER_MAX_EVENT_BYTES: bytesVar(String(MAX_EVENT_BYTES), 256, 1_048_576),
  /** First wait before retrying a write InfluxDB could not take; doubles per attempt. */
  WRITER_RETRY_INITIAL: durationVar("250ms", 10, 60_000),
  /** Longest wait between two retries of the same write. */
  WRITER_RETRY_MAX: durationVar("5s", 10, 600_000),
  /** How long stopping may spend writing what is held before handing the rest back unacknowledged. */
  WRITER_SHUTDOWN_TIMEOUT: durationVar("10s", 100, 600_000),
  /** How often the consumer backlog is read for metrics and, while idle, InfluxDB is pinged for readiness. */
  WRITER_POLL_INTERVAL: durationVar("5s", 100, 3_600_000),
});
export type WriterEnv = z.infer<typeof WriterEnv>;

// NatsEnv and InfluxEnv refine across their fields, so they are intersected rather than spread.
const Env = NatsEnv.and(InfluxEnv)
  .and(opsEnv(DEFAULT_OPS_PORTS.writer))
  .and(StreamEnv)
  .and(StreamsAccessEnv)
  .and(WriterConsumerEnv)
  .and(WriterEnv)
  .refine((env) => env.WRITER_PULL_BATCH === undefined || env.WRITER_PULL_BATCH <= env.WRITER_MAX_IN_FLIGHT, {
    message: "may not exceed WRITER_MAX_IN_FLIGHT: messages pulled but not yet acknowledged count against it",
    path: ["WRITER_PULL_BATCH"],
  })
  .refine((env) => env.WRITER_RETRY_MAX >= env.WRITER_RETRY_INITIAL, {
    message: "must be at least WRITER_RETRY_INITIAL",
    path: ["WRITER_RETRY_MAX"],
  });

/** How the writer batches, retries and stops, independent of where its dependencies live. */
export interface WriterSettings {
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly flushWhenIdle: boolean;
  readonly maxConcurrentWrites: number;
  /** `max_messages` of the pull subscription; at most `consumer.maxAckPending`. */
  readonly pullBatch: number;
  readonly maxEventBytes: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** Deadline for writing held batches once stopping starts. */
  readonly shutdownTimeoutMs: number;
  readonly pollIntervalMs: number;
  /** The durable consumer as the writer creates it, or corrects it when it differs. */
  readonly consumer: WriterConsumerSettings;
  /** Stream limits, for creating the streams when the writer starts first, or checking them. */
  readonly streams: StreamEnv;
  /** Where the streams' API answers, and whether the writer may shape the topology or only check it. */
  readonly access: StreamsAccess;
}

/** Everything the writer needs, parsed once. */
export interface WriterConfig {
  readonly logLevel: LogLevel;
  readonly nats: NatsEnv;
  readonly ops: OpsEnv;
  readonly influx: InfluxConfig;
  readonly settings: WriterSettings;
  /** Deadline for the whole shutdown: the last pull ending, writing held batches, draining NATS. */
  readonly shutdownTimeoutMs: number;
}

/**
 * How long one pull request waits on the server for messages before the writer makes a new one.
 * Stopping lets the request in progress end (a message it delivered after the writer stopped
 * listening would wait out the ack wait), so this also bounds how long an idle writer takes to stop.
 */
export const PULL_EXPIRES_MS = 2_000;

/** Time allowed besides the flush deadline: the pull in progress ending, then draining NATS. */
const STOP_MARGIN_MS = 2 * PULL_EXPIRES_MS + 3_000;

/** Reads the configuration from `env`; throws a `ConfigError` naming every variable that is wrong. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): WriterConfig => {
  const parsed = parseEnv(Env, env, [...NATS_SECRETS, "INFLUX_TOKEN", "INFLUX_PASSWORD"]);
  const consumer = writerConsumerSettings(parsed);
  return Object.freeze({
    logLevel: parsed.LOG_LEVEL,
    nats: parsed,
    ops: parsed,
    influx: influxConfigFromEnv(parsed),
    settings: Object.freeze({
      batchSize: parsed.WRITER_BATCH_SIZE,
      flushIntervalMs: parsed.WRITER_FLUSH_INTERVAL,
      flushWhenIdle: parsed.WRITER_FLUSH_WHEN_IDLE === "true",
      maxConcurrentWrites: parsed.WRITER_MAX_CONCURRENT_WRITES,
      pullBatch: parsed.WRITER_PULL_BATCH ?? Math.min(parsed.WRITER_BATCH_SIZE, consumer.maxAckPending),
      maxEventBytes: parsed.WRITER_MAX_EVENT_BYTES,
      retryInitialMs: parsed.WRITER_RETRY_INITIAL,
      retryMaxMs: parsed.WRITER_RETRY_MAX,
      shutdownTimeoutMs: parsed.WRITER_SHUTDOWN_TIMEOUT,
      pollIntervalMs: parsed.WRITER_POLL_INTERVAL,
      consumer,
      streams: streamLimits(parsed),
      access: streamsAccess(parsed),
    }),
    shutdownTimeoutMs: parsed.WRITER_SHUTDOWN_TIMEOUT + STOP_MARGIN_MS,
  });
};
