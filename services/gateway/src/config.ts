import { readFileSync } from "node:fs";
import {
  AuditStreamEnv,
  bytesVar,
  DEFAULT_OPS_PORTS,
  durationVar,
  intVar,
  LiveStreamEnv,
  LogLevel,
  NATS_SECRETS,
  NatsEnv,
  type OpsEnv,
  opsEnv,
  parseEnv,
  type StreamsAccess,
  StreamsAccessEnv,
  streamsAccess,
} from "@vigil/runtime";
import { z } from "zod";
import type { LiveTailSettings } from "./live/live-tail.js";
import type { RateLimits } from "./rate-limit.js";

/** Origins are compared exactly as browsers send them: scheme, host and port, no path. */
const Origin = z.string().regex(/^https?:\/\/[^\s/]+$/, "expected an origin such as https://vigil.example.org");

/** Settings only the gateway has. */
export const GatewayEnv = z.object({
  LOG_LEVEL: LogLevel.default("info"),
  /** Address of the public HTTP port; 0.0.0.0 inside a container. */
  GATEWAY_HOST: z.string().min(1).default("127.0.0.1"),
  /** Public HTTP port; 0 picks a free one, and the gateway logs which. */
  GATEWAY_PORT: intVar(8080, 0, 65_535),
  /** PKCS#8 PEM private key (Ed25519 or P-256) that signs access tokens. */
  GATEWAY_SIGNING_KEY_FILE: z.string().min(1),
  /** Users and API keys, hashes only (see README, "Credentials file"). */
  GATEWAY_CREDENTIALS_FILE: z.string().min(1),
  /** Lifetime of an access token. */
  GATEWAY_ACCESS_TOKEN_TTL: durationVar("15m", 10_000, 86_400_000),
  /** Lifetime of a refresh token family, counted from the sign-in that started it. */
  GATEWAY_REFRESH_TOKEN_TTL: durationVar("7d", 60_000, 90 * 86_400_000),
  /** Browser origins allowed by CORS, comma-separated; none by default. */
  GATEWAY_CORS_ORIGINS: z
    .string()
    .default("")
    .transform((text) =>
      text
        .split(",")
        .map((origin) => origin.trim())
        .filter((origin) => origin !== ""),
    )
    .pipe(z.array(Origin)),
  /** Largest request body; a batch of 100 events of 8 KiB fits in the default. */
  GATEWAY_BODY_LIMIT: bytesVar("1MiB", 1_024, 64 * 1_048_576),
  /** Deepest nesting of objects and arrays accepted in a JSON body. */
  GATEWAY_MAX_JSON_DEPTH: intVar(16, 2, 256),
  /** Longest a request may take from its first byte to its answer, slow bodies included. */
  GATEWAY_REQUEST_TIMEOUT: durationVar("30s", 1_000, 600_000),
  /** How long to wait for JetStream to confirm an event before answering 503. */
  GATEWAY_PUBLISH_TIMEOUT: durationVar("5s", 100, 60_000),
  /** How long to wait for a reader's reply before answering 503; keep it above the readers' `READER_QUERY_TIMEOUT`. */
  GATEWAY_READER_TIMEOUT: durationVar("10s", 100, 120_000),
  /** Requests a minute per user (tokens signed in with a password), across every gateway; 0: no limit. */
  GATEWAY_RATE_LIMIT_USER: intVar(1_000, 0, 100_000_000),
  /** Requests a minute per API key (sent as `X-API-Key` or signed in with one), across every gateway; 0: no limit. */
  GATEWAY_RATE_LIMIT_KEY: intVar(10_000, 0, 100_000_000),
  /** Certificate chain and key (PEM) that turn TLS on for the public port; both or neither. */
  GATEWAY_TLS_CERT_FILE: z.string().min(1).optional(),
  GATEWAY_TLS_KEY_FILE: z.string().min(1).optional(),
  /** Most live-tail connections open at once on this gateway; more are refused with 503. */
  GATEWAY_LIVE_MAX_CLIENTS: intVar(1_000, 1, 1_000_000),
  /** Most bytes that may wait for one live-tail client; past it the client is closed (4004 TOO_SLOW). */
  GATEWAY_LIVE_MAX_BUFFERED: bytesVar("256KiB", 32_768, 64 * 1_048_576),
  /** A live-tail client that was sent nothing for this long gets a heartbeat frame. */
  GATEWAY_LIVE_HEARTBEAT: durationVar("15s", 100, 600_000),
  /** How often each live-tail connection's caller is checked for a logout or a changed role. */
  GATEWAY_LIVE_SESSION_CHECK: durationVar("10s", 100, 600_000),
  /**
   * How long the live tail's shared feed keeps following LIVE once no live-tail client is connected,
   * so that a client reconnecting soon finds it running.
   */
  GATEWAY_LIVE_FEED_IDLE: durationVar("30s", 0, 3_600_000),
  /**
   * Newest events of LIVE each gateway keeps in memory (about 2.3 KB each for events of about 200
   * bytes), so that a client resuming within them replays without a consumer of its own; 0 keeps none.
   * The default holds 20 s of 1,000 events/s.
   */
  GATEWAY_LIVE_RECENT_EVENTS: intVar(20_000, 0, 1_048_576),
  /** How long stopping (finish in-flight requests, drain NATS) may take before the process exits anyway. */
  GATEWAY_SHUTDOWN_TIMEOUT: durationVar("15s", 1_000, 600_000),
});
export type GatewayEnv = z.infer<typeof GatewayEnv>;

// NatsEnv refines across its fields, so it is intersected rather than spread.
const Env = NatsEnv.and(opsEnv(DEFAULT_OPS_PORTS.gateway))
  .and(GatewayEnv)
  .and(AuditStreamEnv)
  .and(LiveStreamEnv)
  .and(StreamsAccessEnv)
  .refine((env) => (env.GATEWAY_TLS_CERT_FILE === undefined) === (env.GATEWAY_TLS_KEY_FILE === undefined), {
    message: "GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE go together",
    path: ["GATEWAY_TLS_KEY_FILE"],
  });

/** How the public port behaves; what `buildGateway` needs besides its dependencies. */
export interface GatewaySettings {
  readonly corsOrigins: readonly string[];
  readonly bodyLimit: number;
  readonly maxJsonDepth: number;
  readonly requestTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly accessTokenTtlMs: number;
  readonly refreshTokenTtlMs: number;
}

/** Everything the gateway needs, parsed once. */
export interface GatewayConfig {
  readonly logLevel: LogLevel;
  readonly nats: NatsEnv;
  readonly ops: OpsEnv;
  readonly listen: { readonly host: string; readonly port: number };
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  readonly signingKeyFile: string;
  readonly credentialsFile: string;
  readonly settings: GatewaySettings;
  readonly readerTimeoutMs: number;
  readonly rateLimits: RateLimits;
  /** Limits of the `AUDIT` stream, which the gateway creates when it is missing (or checks). */
  readonly auditStream: AuditStreamEnv;
  /**
   * Where the streams' API answers (AUDIT, LIVE, and EVENTS for the stats), and whether the
   * gateway may create AUDIT or only check it.
   */
  readonly streams: StreamsAccess;
  /** Limits the stream `LIVE` must have; the gateway checks them and refuses to start on others. */
  readonly liveStream: LiveStreamEnv;
  readonly live: LiveTailSettings;
  readonly shutdownTimeoutMs: number;
}

/** Reads the configuration from `env`; throws a `ConfigError` naming every variable that is wrong. */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): GatewayConfig => {
  const parsed = parseEnv(Env, env, [...NATS_SECRETS]);
  const tls =
    parsed.GATEWAY_TLS_CERT_FILE !== undefined && parsed.GATEWAY_TLS_KEY_FILE !== undefined
      ? {
          cert: readFileSync(parsed.GATEWAY_TLS_CERT_FILE, "utf8"),
          key: readFileSync(parsed.GATEWAY_TLS_KEY_FILE, "utf8"),
        }
      : undefined;
  return Object.freeze({
    logLevel: parsed.LOG_LEVEL,
    nats: parsed,
    ops: parsed,
    listen: Object.freeze({ host: parsed.GATEWAY_HOST, port: parsed.GATEWAY_PORT }),
    tls,
    signingKeyFile: parsed.GATEWAY_SIGNING_KEY_FILE,
    credentialsFile: parsed.GATEWAY_CREDENTIALS_FILE,
    settings: Object.freeze({
      corsOrigins: Object.freeze([...parsed.GATEWAY_CORS_ORIGINS]),
      bodyLimit: parsed.GATEWAY_BODY_LIMIT,
      maxJsonDepth: parsed.GATEWAY_MAX_JSON_DEPTH,
      requestTimeoutMs: parsed.GATEWAY_REQUEST_TIMEOUT,
      publishTimeoutMs: parsed.GATEWAY_PUBLISH_TIMEOUT,
      accessTokenTtlMs: parsed.GATEWAY_ACCESS_TOKEN_TTL,
      refreshTokenTtlMs: parsed.GATEWAY_REFRESH_TOKEN_TTL,
    }),
    readerTimeoutMs: parsed.GATEWAY_READER_TIMEOUT,
    rateLimits: Object.freeze({
      userPerMinute: parsed.GATEWAY_RATE_LIMIT_USER,
      keyPerMinute: parsed.GATEWAY_RATE_LIMIT_KEY,
    }),
    auditStream: Object.freeze({ AUDIT_MAX_AGE: parsed.AUDIT_MAX_AGE, AUDIT_MAX_BYTES: parsed.AUDIT_MAX_BYTES }),
    streams: streamsAccess(parsed),
    liveStream: Object.freeze({ LIVE_MAX_MSGS: parsed.LIVE_MAX_MSGS, LIVE_MAX_BYTES: parsed.LIVE_MAX_BYTES }),
    live: Object.freeze({
      maxClients: parsed.GATEWAY_LIVE_MAX_CLIENTS,
      maxBufferedBytes: parsed.GATEWAY_LIVE_MAX_BUFFERED,
      heartbeatMs: parsed.GATEWAY_LIVE_HEARTBEAT,
      sessionCheckMs: parsed.GATEWAY_LIVE_SESSION_CHECK,
      feedIdleMs: parsed.GATEWAY_LIVE_FEED_IDLE,
      recentMessages: parsed.GATEWAY_LIVE_RECENT_EVENTS,
    }),
    shutdownTimeoutMs: parsed.GATEWAY_SHUTDOWN_TIMEOUT,
  });
};

/** What the `credentials` command reads from the environment: the file it appends to, when set. */
export const loadCredentialsCliConfig = (env: NodeJS.ProcessEnv = process.env): { readonly file: string | undefined } =>
  Object.freeze({
    file: parseEnv(z.object({ GATEWAY_CREDENTIALS_FILE: z.string().min(1).optional() }), env).GATEWAY_CREDENTIALS_FILE,
  });
