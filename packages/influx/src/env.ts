import { z } from "zod";
import type { InfluxConfig } from "./client.js";

/** Environment variables that point a service at InfluxDB (already stripped of empty values). */
export const InfluxEnv = z
  .object({
    INFLUX_URL: z.url({ protocol: /^https?$/ }).default("http://127.0.0.1:8086"),
    INFLUX_DATABASE: z.string().min(1).default("vigil"),
    INFLUX_RETENTION_POLICY: z.string().min(1).optional(),
    INFLUX_TOKEN: z.string().min(1).optional(),
    INFLUX_USERNAME: z.string().min(1).optional(),
    INFLUX_PASSWORD: z.string().min(1).optional(),
    INFLUX_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  })
  .refine((env) => !(env.INFLUX_TOKEN !== undefined && env.INFLUX_USERNAME !== undefined), {
    message: "set either INFLUX_TOKEN or INFLUX_USERNAME/INFLUX_PASSWORD, not both",
    path: ["INFLUX_TOKEN"],
  })
  .refine((env) => (env.INFLUX_USERNAME === undefined) === (env.INFLUX_PASSWORD === undefined), {
    message: "INFLUX_USERNAME and INFLUX_PASSWORD go together",
    path: ["INFLUX_PASSWORD"],
  });
export type InfluxEnv = z.infer<typeof InfluxEnv>;

/** Builds the client configuration from parsed {@link InfluxEnv} variables. */
export const influxConfigFromEnv = (env: InfluxEnv): InfluxConfig => ({
  url: env.INFLUX_URL,
  database: env.INFLUX_DATABASE,
  ...(env.INFLUX_RETENTION_POLICY === undefined ? {} : { retentionPolicy: env.INFLUX_RETENTION_POLICY }),
  auth:
    env.INFLUX_TOKEN !== undefined
      ? { kind: "token", token: env.INFLUX_TOKEN }
      : env.INFLUX_USERNAME !== undefined && env.INFLUX_PASSWORD !== undefined
        ? { kind: "basic", username: env.INFLUX_USERNAME, password: env.INFLUX_PASSWORD }
        : { kind: "none" },
  timeoutMs: env.INFLUX_TIMEOUT_MS,
});
