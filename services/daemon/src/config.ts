import { durationVar, intVar, LogLevel, NATS_SECRETS, NatsEnv, OpsEnv, parseEnv, StreamEnv } from "@vigil/runtime";
import { SecurityEvent } from "@vigil/shared";
import { z } from "zod";
import { DEFAULT_CRITICALITY_WEIGHTS, parseCriticalityWeights } from "./criticality.js";

/** Every variable the daemon reads. */
export const DaemonEnv = NatsEnv.safeExtend({
  ...StreamEnv.shape,
  ...OpsEnv.shape,
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
  /** How far behind its schedule the pacing may catch up in one burst. */
  DAEMON_BURST: durationVar("10ms", 0, 60_000),
  /** How long shutdown waits for in-flight publishes to be confirmed. */
  DAEMON_SHUTDOWN_TIMEOUT: durationVar("10s", 0, 600_000),
}).refine((env) => env.DAEMON_RETRY_INITIAL_DELAY <= env.DAEMON_RETRY_MAX_DELAY, {
  message: "DAEMON_RETRY_INITIAL_DELAY must not exceed DAEMON_RETRY_MAX_DELAY",
  path: ["DAEMON_RETRY_INITIAL_DELAY"],
});
export type DaemonEnv = z.infer<typeof DaemonEnv>;

/** The daemon's configuration, frozen. */
export type DaemonConfig = Readonly<DaemonEnv>;

/** Reads the daemon's configuration from `env`; throws a ConfigError naming every bad variable. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): DaemonConfig =>
  parseEnv(DaemonEnv, env, NATS_SECRETS);
