import type { NatsConnection } from "@nats-io/nats-core";
import { connect, type NodeConnectionOptions } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { z } from "zod";
import { backoffDelay, sleep } from "./delay.js";
import { StartupError } from "./errors.js";

/** Environment variables that point a service at NATS (already stripped of empty values). */
export const NatsEnv = z
  .object({
    /** One or more server URLs, comma-separated. */
    NATS_URL: z
      .string()
      .default("nats://127.0.0.1:4222")
      .transform((text) => text.split(",").map((url) => url.trim()))
      .pipe(
        z.array(z.string().regex(/^(nats|tls):\/\/[^\s]+$/, "expected nats://host:port or tls://host:port")).min(1),
      ),
    NATS_USER: z.string().min(1).optional(),
    NATS_PASSWORD: z.string().min(1).optional(),
    NATS_TOKEN: z.string().min(1).optional(),
    /** CA bundle that signs the server's certificate; turns TLS on and verifies the server. */
    NATS_TLS_CA_FILE: z.string().min(1).optional(),
    /**
     * Prefix of this connection's reply subjects. Giving each service its own prefix lets the
     * server confine every user to its own inboxes, so no user can read another's replies.
     */
    NATS_INBOX_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "expected subject tokens such as _INBOX_writer")
      .optional(),
    /** How long to keep trying the first connection before giving up on start. */
    NATS_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  })
  .refine((env) => (env.NATS_USER === undefined) === (env.NATS_PASSWORD === undefined), {
    message: "NATS_USER and NATS_PASSWORD go together",
    path: ["NATS_PASSWORD"],
  });
export type NatsEnv = z.infer<typeof NatsEnv>;

/** Secrets of {@link NatsEnv} that may also be given as `NAME_FILE`. */
export const NATS_SECRETS = ["NATS_PASSWORD", "NATS_TOKEN"] as const;

/** Connection options for {@link NatsEnv}: reconnect forever, since every service is long-lived. */
export const natsOptionsFromEnv = (env: NatsEnv, name: string): NodeConnectionOptions => ({
  servers: env.NATS_URL,
  name,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
  reconnectJitter: 250,
  ...(env.NATS_USER !== undefined && env.NATS_PASSWORD !== undefined
    ? { user: env.NATS_USER, pass: env.NATS_PASSWORD }
    : {}),
  ...(env.NATS_TOKEN !== undefined ? { token: env.NATS_TOKEN } : {}),
  ...(env.NATS_INBOX_PREFIX !== undefined ? { inboxPrefix: env.NATS_INBOX_PREFIX } : {}),
  ...(env.NATS_TLS_CA_FILE !== undefined ? { tls: { caFile: env.NATS_TLS_CA_FILE } } : {}),
});

/**
 * Connects to NATS and logs every loss and recovery of the connection, so that an operator
 * reading the logs sees when a dependency went away and when it came back.
 */
export const connectNats = async (
  env: NatsEnv,
  name: string,
  log: Logger,
  onStatus: (connected: boolean) => void = () => {},
): Promise<NatsConnection> => {
  const options = natsOptionsFromEnv(env, name);
  const deadline = Date.now() + env.NATS_CONNECT_TIMEOUT_MS;
  let nc: NatsConnection | undefined;
  // Services may start before NATS does (compose, a restart of everything): retry the first
  // connection until the deadline, then fail start-up with the last reason.
  for (let attempt = 0; nc === undefined; attempt++) {
    try {
      nc = await connect({ ...options, timeout: Math.max(100, Math.min(5_000, deadline - Date.now())) });
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new StartupError(`cannot connect to NATS at ${env.NATS_URL.join(",")}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (attempt === 0) log.warn({ err }, "NATS is not reachable yet; retrying");
      await sleep(Math.min(backoffDelay(attempt, 200, 2_000), Math.max(0, deadline - Date.now())));
    }
  }
  log.info({ server: nc.getServer() }, "connected to NATS");
  onStatus(true);
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
          onStatus(false);
          log.warn({ server: status.server }, "lost the NATS connection; reconnecting");
          break;
        case "reconnect":
          onStatus(true);
          log.info({ server: status.server }, "NATS connection is back");
          break;
        case "error":
          log.error({ err: status.error }, "NATS connection error");
          break;
        case "slowConsumer":
          log.warn({ subject: status.sub.getSubject() }, "NATS slow consumer: messages were dropped by the client");
          break;
        default:
          break;
      }
    }
  })();
  return nc;
};
