import { generateKeyPairSync } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  AuditStreamEnv,
  createConfirmedPublish,
  createInboxRequests,
  createLogger,
  EventsStreamEnv,
  ensureAuditStream,
  ensureEventsStream,
} from "@vigil/runtime";
import { GATEWAY_RATE_BUCKET } from "@vigil/shared";
import { type NatsServer, startNatsServer } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { type AuditTrail, createAuditTrail } from "./audit/audit-trail.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, parseCredentials } from "./auth/credentials.js";
import { createPipelineStats, readPipeline } from "./pipeline-stats.js";
import { openRateCounters } from "./rate-counters.js";
import { createRateLimiter, RATE_WINDOW_MS } from "./rate-limit.js";
import { statsRoutes } from "./routes/stats.js";
import { testSettings } from "./settings.fixture.js";

const log = createLogger("gateway-rate-test", "silent");
const settings = testSettings();
const LIMITS = { userPerMinute: 40, keyPerMinute: 60 };
/** The middle of a window, fixed, so that no window ends during the test. */
const NOW = 1_000 * RATE_WINDOW_MS + RATE_WINDOW_MS / 2;

describe("rate limits shared by two gateways on one nats-server", () => {
  let nats: NatsServer;
  const connections: NatsConnection[] = [];
  const apps: GatewayApp[] = [];
  let audit: AuditTrail;
  let apiKey: string;
  let accessToken: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const created = createApiKey("viewer-key", "viewer");
    apiKey = created.key;
    const credentials = await parseCredentials(created.line);
    for (let i = 0; i < 2; i++) {
      const nc = await connect({ servers: nats.url });
      connections.push(nc);
      const jsm = await jetstreamManager(nc);
      const publisher = createConfirmedPublish(nc);
      await ensureEventsStream(jsm, EventsStreamEnv.parse({}), log);
      await ensureAuditStream(jsm, AuditStreamEnv.parse({}), log);
      const tokens = await createAccessTokens(signingKey, settings.accessTokenTtlMs);
      if (i === 0) {
        accessToken = await tokens.sign({ name: "vic", role: "viewer", via: "token" }, "family-of-vic");
        audit = createAuditTrail({ publisher, jsm, log, timeoutMs: 5_000 });
      }
      apps.push(
        await buildGateway({
          log,
          settings,
          authenticator: createAuthenticator(tokens, credentials),
          routes: [statsRoutes(createPipelineStats({ read: () => readPipeline(jsm), connected: () => true }))],
          rateLimiter: createRateLimiter({
            counters: await openRateCounters(
              await new Kvm(jetstream(nc)).create(GATEWAY_RATE_BUCKET, { ttl: 2 * RATE_WINDOW_MS }),
              { requests: createInboxRequests(nc), publisher, timeoutMs: 5_000 },
            ),
            limits: LIMITS,
            isApiKey: (principal) => principal.via === "apiKey",
            log,
            now: () => NOW,
          }),
          ...(i === 0 ? { audit } : {}),
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app.close()));
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await nats?.dispose();
  });

  /** Sends `total` requests, alternating between the two gateways, ten at a time; the statuses in order. */
  const burst = async (total: number, headers: Record<string, string>) => {
    const statuses: { status: number; code?: string; retryAfter?: string; app: number }[] = [];
    for (let start = 0; start < total; start += 10) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(10, total - start) }, async (_, i) => {
          const app = (start + i) % 2;
          const response = await (apps[app] as GatewayApp).inject({ method: "GET", url: "/v1/stats", headers });
          return {
            status: response.statusCode,
            app,
            ...(response.statusCode === 429
              ? { code: response.json().error.code, retryAfter: String(response.headers["retry-after"]) }
              : {}),
          };
        }),
      );
      statuses.push(...answers);
    }
    return statuses;
  };

  it("holds an API key to its limit across both gateways, and answers 429 RATE_LIMITED with Retry-After", async () => {
    const answers = await burst(150, { "x-api-key": apiKey });
    const allowed = answers.filter((answer) => answer.status === 200).length;
    expect(allowed).toBeGreaterThanOrEqual(LIMITS.keyPerMinute);
    expect(allowed).toBeLessThanOrEqual(LIMITS.keyPerMinute * 1.1);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(limited).toHaveLength(150 - allowed);
    // Both gateways refused some: the count is shared, not per process.
    expect(new Set(limited.map((answer) => answer.app))).toEqual(new Set([0, 1]));
    for (const answer of limited) expect(answer).toMatchObject({ code: "RATE_LIMITED", retryAfter: "30" });
  });

  it("holds a user to the user limit, counted apart from the API keys", async () => {
    const answers = await burst(100, { authorization: `Bearer ${accessToken}` });
    const allowed = answers.filter((answer) => answer.status === 200).length;
    expect(allowed).toBeGreaterThanOrEqual(LIMITS.userPerMinute);
    expect(allowed).toBeLessThanOrEqual(LIMITS.userPerMinute * 1.1);
  });

  it("audits each refused request as rate_limited", async () => {
    await audit.flush();
    const records = await audit.newest(1_000);
    const limited = records.filter((record) => record.outcome === "rate_limited");
    // Gateway 0 took half of the 150 + 100 requests, and audits its own.
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.every((record) => record.code === "RATE_LIMITED" && record.status === 429)).toBe(true);
    expect(new Set(limited.map((record) => record.actor))).toEqual(new Set(["viewer-key", "vic"]));
  });
});
