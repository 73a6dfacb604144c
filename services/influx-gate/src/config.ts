import { type InfluxConfig, InfluxEnv, influxConfigFromEnv } from "@vigil/influx";
import {
  bytesVar,
  DEFAULT_OPS_PORTS,
  durationVar,
  intVar,
  LogLevel,
  type OpsEnv,
  opsEnv,
  parseEnv,
} from "@vigil/runtime";
import { z } from "zod";
import type { GateRules } from "./request-filter.js";

/** The name the gate logs and labels its metrics with, and the name of its image (`vigil/influx-gate`). */
export const INFLUX_GATE_SERVICE = "influx-gate";

/**
 * The default body limit: the writer's largest batch with its defaults. WRITER_BATCH_SIZE (5,000)
 * events of at most WRITER_MAX_EVENT_BYTES (8 KiB) each; a line of line protocol is at most the
 * event's payload plus about 150 bytes (measurement, tags, field names, sequence, time), so 5,000 ×
 * 8.25 KiB = 40.3 MiB, and 48MiB leaves room.
 */
const DEFAULT_MAX_BODY = "48MiB";

/** Settings only the gate has. */
export const InfluxGateEnv = z.object({
  LOG_LEVEL: LogLevel.default("info"),
  /** Address of the port the writer sends to; 0.0.0.0 inside a container. */
  INFLUX_GATE_HOST: z.string().min(1).default("127.0.0.1"),
  /** Port the writer sends to; 0 picks a free one, and the gate logs which. */
  INFLUX_GATE_PORT: intVar(8087, 0, 65_535),
  /**
   * The credential the writer presents (`Authorization: Token <it>`), not InfluxDB's: the gate
   * accepts it and sends InfluxDB its own INFLUX_TOKEN instead. At least 20 characters.
   */
  INFLUX_GATE_TOKEN: z.string().min(20, "expected at least 20 characters"),
  /** Largest body of one write; larger ones get 413 before anything reaches InfluxDB. */
  INFLUX_GATE_MAX_BODY_BYTES: bytesVar(DEFAULT_MAX_BODY, 1_024, 1_073_741_824),
  /** Longest one request may take: its body arriving, then InfluxDB's answer. Past it: 503. */
  INFLUX_GATE_REQUEST_TIMEOUT: durationVar("30s", 100, 600_000),
  /** Requests passed to InfluxDB at once; more get 429 with Retry-After at once. */
  INFLUX_GATE_MAX_CONCURRENT: intVar(8, 1, 1_024),
  /** Connections to InfluxDB kept open for reuse (keep-alive), and the most open at once. */
  INFLUX_GATE_UPSTREAM_CONNECTIONS: intVar(8, 1, 1_024),
  /** How often InfluxDB is pinged for /readyz between requests. */
  INFLUX_GATE_HEALTH_INTERVAL: durationVar("10s", 100, 3_600_000),
  /** How long stopping (finish requests in flight) may take before the process exits anyway. */
  INFLUX_GATE_SHUTDOWN_TIMEOUT: durationVar("15s", 1_000, 600_000),
});
export type InfluxGateEnv = z.infer<typeof InfluxGateEnv>;

// InfluxEnv refines across its fields, so it is intersected rather than spread.
const Env = InfluxEnv.and(opsEnv(DEFAULT_OPS_PORTS.influxGate))
  .and(InfluxGateEnv)
  .refine((env) => env.INFLUX_GATE_TOKEN !== env.INFLUX_TOKEN, {
    message: "must not be InfluxDB's own token: the writer's credential is the gate's alone",
    path: ["INFLUX_GATE_TOKEN"],
  });

/** What the gate lets through, and the limits it keeps. */
export interface GateSettings {
  readonly host: string;
  readonly port: number;
  /** The writer's credential. */
  readonly token: string;
  /** Where writes may go: InfluxDB's database (2.x bucket) and retention policy. */
  readonly rules: GateRules;
  readonly maxBodyBytes: number;
  readonly requestTimeoutMs: number;
  readonly maxConcurrent: number;
  readonly upstreamConnections: number;
  readonly healthIntervalMs: number;
}

/** Everything the gate needs, parsed once. */
export interface InfluxGateConfig {
  readonly logLevel: LogLevel;
  readonly ops: OpsEnv;
  /** InfluxDB and the gate's own credential for it (INFLUX_TOKEN, or a 1.x user). */
  readonly influx: InfluxConfig;
  readonly settings: GateSettings;
  readonly shutdownTimeoutMs: number;
}

/** Reads the configuration from `env`; throws a `ConfigError` naming every variable that is wrong. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): InfluxGateConfig => {
  const parsed = parseEnv(Env, env, ["INFLUX_TOKEN", "INFLUX_PASSWORD", "INFLUX_GATE_TOKEN"]);
  const influx = influxConfigFromEnv(parsed);
  return Object.freeze({
    logLevel: parsed.LOG_LEVEL,
    ops: parsed,
    // One timeout for every request to InfluxDB, pings included; INFLUX_TIMEOUT_MS is not used.
    influx: { ...influx, timeoutMs: parsed.INFLUX_GATE_REQUEST_TIMEOUT },
    settings: Object.freeze({
      host: parsed.INFLUX_GATE_HOST,
      port: parsed.INFLUX_GATE_PORT,
      token: parsed.INFLUX_GATE_TOKEN,
      rules: Object.freeze({
        database: influx.database,
        ...(influx.retentionPolicy === undefined ? {} : { retentionPolicy: influx.retentionPolicy }),
      }),
      maxBodyBytes: parsed.INFLUX_GATE_MAX_BODY_BYTES,
      requestTimeoutMs: parsed.INFLUX_GATE_REQUEST_TIMEOUT,
      maxConcurrent: parsed.INFLUX_GATE_MAX_CONCURRENT,
      upstreamConnections: parsed.INFLUX_GATE_UPSTREAM_CONNECTIONS,
      healthIntervalMs: parsed.INFLUX_GATE_HEALTH_INTERVAL,
    }),
    shutdownTimeoutMs: parsed.INFLUX_GATE_SHUTDOWN_TIMEOUT,
  });
};
