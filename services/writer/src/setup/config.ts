import { AuditStreamEnv, LogLevel, NATS_SECRETS, NatsEnv, parseEnv, StreamEnv, streamLimits } from "@vigil/runtime";
import { z } from "zod";
import { WriterConsumerEnv, type WriterConsumerSettings, writerConsumerSettings } from "../consumer.js";

// NatsEnv refines across its fields, so it is intersected rather than spread.
const Env = NatsEnv.and(StreamEnv)
  .and(WriterConsumerEnv)
  .and(AuditStreamEnv)
  .and(z.object({ LOG_LEVEL: LogLevel.default("info") }));

/** What the set-up creates: the same variables the writer and the gateway check it with. */
export interface SetupConfig {
  readonly logLevel: LogLevel;
  readonly nats: NatsEnv;
  readonly streams: StreamEnv;
  readonly consumer: WriterConsumerSettings;
  readonly audit: AuditStreamEnv;
}

/** Reads the configuration from `env`; throws a `ConfigError` naming every variable that is wrong. */
export const loadSetupConfig = (env: NodeJS.ProcessEnv = process.env): SetupConfig => {
  const parsed = parseEnv(Env, env, NATS_SECRETS);
  return Object.freeze({
    logLevel: parsed.LOG_LEVEL,
    nats: parsed,
    streams: streamLimits(parsed),
    consumer: writerConsumerSettings(parsed),
    audit: Object.freeze({ AUDIT_MAX_AGE: parsed.AUDIT_MAX_AGE, AUDIT_MAX_BYTES: parsed.AUDIT_MAX_BYTES }),
  });
};
