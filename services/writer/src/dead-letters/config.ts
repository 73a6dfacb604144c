import { durationVar, NATS_SECRETS, NatsEnv, parseEnv } from "@vigil/runtime";
import { z } from "zod";
import { WriterEnv } from "../config.js";

/** The dead-letter command's own variables (the NATS ones come from `NatsEnv`). */
export const DeadLettersEnv = z.object({
  /** Longest wait for one JetStream request: a publish confirmation, a read, a delete. */
  DEADLETTERS_TIMEOUT: durationVar("10s", 100, 600_000),
  /** The writers' limit, so that replay judges a payload as the writers will. */
  WRITER_MAX_EVENT_BYTES: WriterEnv.shape.WRITER_MAX_EVENT_BYTES,
});
export type DeadLettersEnv = z.infer<typeof DeadLettersEnv>;

// NatsEnv refines across its fields, so it is intersected rather than spread.
const Env = NatsEnv.and(DeadLettersEnv);

/** Everything the command needs besides its arguments, parsed once. */
export interface DeadLettersConfig {
  readonly nats: NatsEnv;
  readonly timeoutMs: number;
  readonly maxEventBytes: number;
}

/** Reads the configuration from `env`; throws a `ConfigError` naming every variable that is wrong. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): DeadLettersConfig => {
  const parsed = parseEnv(Env, env, NATS_SECRETS);
  return Object.freeze({
    nats: parsed,
    timeoutMs: parsed.DEADLETTERS_TIMEOUT,
    maxEventBytes: parsed.WRITER_MAX_EVENT_BYTES,
  });
};
