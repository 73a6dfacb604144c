import { generateKeyPairSync, randomUUID } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  AuditStreamEnv,
  type ConfirmedPublish,
  connectNats,
  createConfirmedPublish,
  createInboxRequests,
  createLogger,
  EventsStreamEnv,
  ensureAuditStream,
  ensureEventsStream,
} from "@vigil/runtime";
import { decodeEvent, EVENTS_STREAM, GATEWAY_RATE_BUCKET } from "@vigil/shared";
import { type NatsServer, readStreamPayloads, startNatsServer, waitFor } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { type AuditTrail, createAuditTrail } from "./audit/audit-trail.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, parseCredentials } from "./auth/credentials.js";
import { loadConfig } from "./config.js";
import { createEventIngest } from "./ingest.js";
import { openRateCounters } from "./rate-counters.js";
import { createRateLimiter, RATE_WINDOW_MS } from "./rate-limit.js";
import { eventRoutes } from "./routes/events.js";
import { testSettings } from "./settings.fixture.js";

const log = createLogger("gateway-outage-test", "silent");
/** A publish timeout far longer than an answer may take: a 503 that waited for it would be a timeout in disguise. */
const PUBLISH_TIMEOUT_MS = 20_000;
const settings = testSettings({ requestTimeoutMs: 30_000, publishTimeoutMs: PUBLISH_TIMEOUT_MS });
const event = (id: string) => ({ id, criticality: 7, timestamp: new Date().toISOString(), eventMessage: "outage" });

describe("the gateway while its nats-server is stopped and started again", () => {
  let nats: NatsServer;
  /** The test's own connection, to read the stream; the gateway has its own, as in main.ts. */
  let reader: NatsConnection;
  let gatewayNc: NatsConnection;
  let publisher: ConfirmedPublish;
  let audit: AuditTrail;
  let app: GatewayApp;
  let natsConnected = false;
  let apiKey: string;

  const natsEnv = () =>
    loadConfig({ NATS_URL: nats.url, GATEWAY_SIGNING_KEY_FILE: "x", GATEWAY_CREDENTIALS_FILE: "x" }).nats;
  const storedIds = async () =>
    (await readStreamPayloads(reader, EVENTS_STREAM)).map((payload) => {
      const decoded = decodeEvent(payload);
      if (!decoded.ok) throw new Error(decoded.rejection.reason);
      return decoded.event.id;
    });
  const post = (url: string, payload: object) =>
    app.inject({ method: "POST", url, headers: { "x-api-key": apiKey }, payload });

  beforeAll(async () => {
    nats = await startNatsServer();
    reader = await connectNats(natsEnv(), "outage-reader", log);
    const jsm = await jetstreamManager(reader);
    await ensureEventsStream(jsm, EventsStreamEnv.parse({}), log);
    await ensureAuditStream(jsm, AuditStreamEnv.parse({}), log);

    // The gateway's wiring from main.ts: its own connection, whose status drives `connected`,
    // the shared rate limiter and the audit trail, both of which also need NATS.
    gatewayNc = await connectNats(natsEnv(), "outage-gateway", log, (up) => {
      natsConnected = up;
    });
    const created = createApiKey("outage-producer", "producer");
    apiKey = created.key;
    const credentials = await parseCredentials(`${created.line}\n`);
    const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    publisher = createConfirmedPublish(gatewayNc);
    audit = createAuditTrail({ publisher, jsm: await jetstreamManager(gatewayNc), log, timeoutMs: 2_000 });
    app = await buildGateway({
      log,
      settings,
      authenticator: createAuthenticator(await createAccessTokens(signingKey, settings.accessTokenTtlMs), credentials),
      routes: [
        eventRoutes(
          createEventIngest({ publisher, connected: () => natsConnected, timeoutMs: settings.publishTimeoutMs }),
        ),
      ],
      audit,
      rateLimiter: createRateLimiter({
        counters: await openRateCounters(
          await new Kvm(jetstream(gatewayNc)).create(GATEWAY_RATE_BUCKET, { ttl: 2 * RATE_WINDOW_MS }),
          { requests: createInboxRequests(gatewayNc), publisher, timeoutMs: settings.publishTimeoutMs },
        ),
        limits: { userPerMinute: 1_000, keyPerMinute: 10_000 },
        isApiKey: (principal) => principal.via === "apiKey",
        log,
        connected: () => natsConnected,
      }),
    });
  });
  afterAll(async () => {
    await app?.close();
    publisher?.close();
    await gatewayNc?.close();
    await reader?.close();
    await nats?.dispose();
  });

  it("answers 503 with Retry-After at once while NATS is down, then stores new and retried events once", async () => {
    const before = randomUUID();
    expect((await post("/v1/events", event(before))).statusCode).toBe(202);

    await nats.stop();
    await waitFor("the gateway to notice that NATS is gone", () => !natsConnected, 10_000);
    const refusedId = randomUUID();
    const started = Date.now();
    const single = await post("/v1/events", event(refusedId));
    const batch = await post("/v1/events/batch", { events: [event(randomUUID()), { criticality: 99 }] });
    expect(single.statusCode, single.body).toBe(503);
    expect(single.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
    expect(single.json().error.code).toBe("UNAVAILABLE");
    expect(batch.statusCode, batch.body).toBe(503);
    expect(batch.headers["retry-after"]).toMatch(/^[1-9]\d*$/);
    // Not a timeout: both answers came long before a publish could have timed out.
    expect(Date.now() - started).toBeLessThan(PUBLISH_TIMEOUT_MS / 2);

    await nats.start();
    await waitFor("the gateway to reconnect to NATS", () => natsConnected, 30_000);
    const after = randomUUID();
    // The stream may need a moment after the restart; a client retries on 503, and so does this test.
    await waitFor("an event to be accepted after the restart", async () => {
      const response = await post("/v1/events", event(after));
      if (response.statusCode === 503) return false;
      expect(response.statusCode, response.body).toBe(202);
      return true;
    });
    // The client that was told to retry does so with the same id.
    expect((await post("/v1/events", event(refusedId))).statusCode).toBe(202);
    expect((await post("/v1/events", event(after))).statusCode).toBe(202);

    // The test's own connection reconnects on its own schedule, which the gateway's says nothing of.
    let ids: (string | undefined)[] = [];
    await waitFor(
      "the test's connection to read the stream after the restart",
      async () => {
        ids = await storedIds();
        return true;
      },
      30_000,
    );
    expect(ids.filter((id) => id === before)).toHaveLength(1);
    expect(ids.filter((id) => id === after)).toHaveLength(1);
    expect(ids.filter((id) => id === refusedId)).toHaveLength(1);
  });
});
