import {
  DEFAULT_OPS_PORTS,
  durationVar,
  EventsStreamEnv,
  intVar,
  LogLevel,
  NATS_SECRETS,
  NatsEnv,
  type OpsEnv,
  opsEnv,
  parseEnv,
} from "@vigil/runtime";
import { SecurityEvent } from "@vigil/shared";
import { z } from "zod";
import { DEFAULT_CRITICALITY_WEIGHTS, parseCriticalityWeights } from "./criticality.js";
import type { EventGeneratorOptions } from "./event-generator.js";
import type { PublisherSettings } from "./publisher.js";

/** Settings only the daemon has. */
export const DaemonEnv = z.object({
  LOG_LEVEL: LogLevel.default("info"),
  /** `source` of every event; the contract limits it to 64 of `A-Za-z0-9._-`. */
  DAEMON_SOURCE: SecurityEvent.shape.source.unwrap().default("daemon"),
  /** Events per second; 0 publishes as fast as the stream confirms. */
  DAEMON_RATE: z.coerce.number().min(0).max(1_000_000).default(10),
  /** Relative weights of criticality 0..10. */
  DAEMON_CRITICALITY_WEIGHTS: z
    .string()
    .default(DEFAULT_CRITICALITY_WEIGHTS)
    .transform((text, ctx) => {
      const parsed = parseCriticalityWeights(text);
      if (parsed.ok) return parsed.weights;
      ctx.addIssue({ code: "custom", message: parsed.reason });
      return z.NEVER;
    }),
  /** Most events published and not yet confirmed; beyond it the daemon waits. */
  DAEMON_MAX_IN_FLIGHT: intVar(1_000, 1, 100_000),
  /** Stop after this many events are confirmed; unset runs until a signal. */
  DAEMON_MAX_EVENTS: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  /** How long to wait for one publish confirmation before retrying it. */
  DAEMON_PUBLISH_TIMEOUT: durationVar("5s", 100, 600_000),
  /** First delay before retrying a failed publish; doubles per attempt up to the maximum. */
  DAEMON_RETRY_INITIAL_DELAY: durationVar("100ms", 1, 60_000),
  DAEMON_RETRY_MAX_DELAY: durationVar("5s", 1, 600_000),
  /** How long shutdown waits for in-flight publishes to be confirmed. */
  DAEMON_SHUTDOWN_TIMEOUT: durationVar("10s", 0, 600_000),
  /**
   * Whether to create the events stream at start when it is missing. Off where the daemon's
   * credential may only publish (compose: the writer owns the stream), so that it never asks the
   * JetStream API for what it may not have.
   */
  DAEMON_ENSURE_STREAM: z.enum(["true", "false"]).default("true"),
});
export type DaemonEnv = z.infer<typeof DaemonEnv>;

// NatsEnv refines across its fields, so it is intersected rather than spread.
const Env = NatsEnv.and(opsEnv(DEFAULT_OPS_PORTS.daemon))
  .and(EventsStreamEnv)
  .and(DaemonEnv)
  .refine((env) => env.DAEMON_RETRY_INITIAL_DELAY <= env.DAEMON_RETRY_MAX_DELAY, {
    message: "DAEMON_RETRY_INITIAL_DELAY must not exceed DAEMON_RETRY_MAX_DELAY",
    path: ["DAEMON_RETRY_INITIAL_DELAY"],
  });

/**
 * How far behind its schedule the pacing may catch up in one burst. Not a setting: DAEMON_RATE is
 * what a user tunes, and a few milliseconds of events smooth over timer jitter at any rate.
 */
export const PACING_BURST_MS = 10;

/** Everything the daemon needs, parsed once. */
export interface DaemonConfig {
  readonly logLevel: LogLevel;
  readonly nats: NatsEnv;
  readonly ops: OpsEnv;
  /** Stream limits, for creating the events stream when it is missing; absent with DAEMON_ENSURE_STREAM=false. */
  readonly streams: EventsStreamEnv | undefined;
  readonly events: Pick<EventGeneratorOptions, "weights" | "source">;
  readonly publisher: PublisherSettings;
  /** How long stopping waits for in-flight publishes to be confirmed. */
  readonly drainTimeoutMs: number;
  /** Deadline for the whole shutdown: the wait for confirmations, draining NATS, the ops server. */
  readonly shutdownTimeoutMs: number;
}

/** Beyond the wait for confirmations, shutdown still drains NATS and closes the ops server. */
const CLOSE_ALLOWANCE_MS = 5_000;

/** Reads the configuration from `env`; throws a `ConfigError` naming every variable that is wrong. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): DaemonConfig => {
  const parsed = parseEnv(Env, env, NATS_SECRETS);
  return Object.freeze({
    logLevel: parsed.LOG_LEVEL,
    nats: parsed,
    ops: parsed,
    streams: parsed.DAEMON_ENSURE_STREAM === "true" ? parsed : undefined,
    events: Object.freeze({ weights: parsed.DAEMON_CRITICALITY_WEIGHTS, source: parsed.DAEMON_SOURCE }),
    publisher: Object.freeze({
      ratePerSecond: parsed.DAEMON_RATE,
      maxInFlight: parsed.DAEMON_MAX_IN_FLIGHT,
      ...(parsed.DAEMON_MAX_EVENTS === undefined ? {} : { maxEvents: parsed.DAEMON_MAX_EVENTS }),
      publishTimeoutMs: parsed.DAEMON_PUBLISH_TIMEOUT,
      retryInitialMs: parsed.DAEMON_RETRY_INITIAL_DELAY,
      retryMaxMs: parsed.DAEMON_RETRY_MAX_DELAY,
      burstMs: PACING_BURST_MS,
    }),
    drainTimeoutMs: parsed.DAEMON_SHUTDOWN_TIMEOUT,
    shutdownTimeoutMs: parsed.DAEMON_SHUTDOWN_TIMEOUT + CLOSE_ALLOWANCE_MS,
  });
};
