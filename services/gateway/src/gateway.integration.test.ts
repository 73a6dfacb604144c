import { generateKeyPairSync } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  AuditStreamEnv,
  connectNats,
  createConfirmedPublish,
  createLogger,
  EventsStreamEnv,
  ensureAuditStream,
  ensureEventsStream,
} from "@vigil/runtime";
import { decodeEvent, EVENTS_STREAM, GATEWAY_REFRESH_BUCKET } from "@vigil/shared";
import { type NatsServer, readStreamPayloads, startNatsServer } from "@vigil/testing";
import { base64url, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { type AuditRecord, type AuditTrail, createAuditTrail } from "./audit/audit-trail.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, createUserLine, parseCredentials } from "./auth/credentials.js";
import { createRefreshFamilies } from "./auth/refresh-families.js";
import { loadConfig } from "./config.js";
import { createEventIngest } from "./ingest.js";
import { createPipelineStats, readPipeline } from "./pipeline-stats.js";
import { auditRoutes } from "./routes/audit.js";
import { authRoutes } from "./routes/auth.js";
import { eventRoutes } from "./routes/events.js";
import { statsRoutes } from "./routes/stats.js";
import { testSettings } from "./settings.fixture.js";

const log = createLogger("gateway-test", "silent");
const settings = testSettings();
const PASSWORD = "correct horse battery staple";
const event = (criticality = 5) => ({ criticality, timestamp: new Date().toISOString(), eventMessage: "login failed" });

describe("the gateway on a real nats-server", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let app: GatewayApp;
  let connected = true;
  let audit: AuditTrail;
  /** Every secret the test handed out or used: none may appear in an audit record. */
  const secrets = new Set<string>([PASSWORD]);
  const keys: Record<string, string> = {};
  const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

  const token = async (username: string) => {
    const response = await app.inject({
      method: "POST",
      url: "/v1/auth/token",
      payload: { username, password: PASSWORD },
    });
    expect(response.statusCode).toBe(200);
    const pair = response.json() as { accessToken: string; refreshToken: string; tokenType: string; expiresIn: number };
    secrets.add(pair.accessToken);
    secrets.add(pair.refreshToken);
    return pair;
  };
  const storedEvents = async () =>
    (await readStreamPayloads(nc, EVENTS_STREAM)).map((payload) => {
      const decoded = decodeEvent(payload);
      if (!decoded.ok) throw new Error(decoded.rejection.reason);
      return decoded.event;
    });

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectNats(
      loadConfig({ NATS_URL: nats.url, GATEWAY_SIGNING_KEY_FILE: "x", GATEWAY_CREDENTIALS_FILE: "x" }).nats,
      "gw-test",
      log,
    );
    const jsm = await jetstreamManager(nc);
    await ensureEventsStream(jsm, EventsStreamEnv.parse({}), log);
    await ensureAuditStream(jsm, AuditStreamEnv.parse({}), log);
    audit = createAuditTrail({ publisher: createConfirmedPublish(nc), jsm, log, timeoutMs: 5_000 });
    const lines = [
      await createUserLine("alice", "admin", PASSWORD),
      await createUserLine("pat", "producer", PASSWORD),
      await createUserLine("vic", "viewer", PASSWORD),
    ];
    for (const role of ["producer", "viewer", "admin"] as const) {
      const created = createApiKey(`${role}-key`, role);
      keys[role] = created.key;
      secrets.add(created.key);
      lines.push(created.line);
    }
    const credentials = await parseCredentials(`# test\n${lines.join("\n")}\n`);
    const tokens = await createAccessTokens(signingKey, settings.accessTokenTtlMs);
    const kv = await new Kvm(jetstream(nc)).create(GATEWAY_REFRESH_BUCKET, { ttl: settings.refreshTokenTtlMs });
    const families = createRefreshFamilies(kv, settings.refreshTokenTtlMs);
    const ingest = createEventIngest({
      publisher: createConfirmedPublish(nc),
      connected: () => connected,
      timeoutMs: 2_000,
    });
    app = await buildGateway({
      log,
      settings,
      authenticator: createAuthenticator(tokens, credentials),
      routes: [
        authRoutes({ tokens, credentials, families, accessTokenTtlMs: settings.accessTokenTtlMs }),
        eventRoutes(ingest),
        statsRoutes(
          createPipelineStats({ read: async () => readPipeline(await jetstreamManager(nc)), connected: () => true }),
        ),
        auditRoutes(audit),
      ],
      audit,
    });
  });
  afterAll(async () => {
    await app?.close();
    await nc?.close();
    await nats?.dispose();
  });

  it("issues tokens for a password or an API key, and refuses a wrong password", async () => {
    const pair = await token("alice");
    expect(pair.tokenType).toBe("Bearer");
    expect(pair.expiresIn).toBe(60);
    const [header] = pair.accessToken.split(".");
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(header ?? "")))).toMatchObject({
      alg: "EdDSA",
      kid: expect.any(String),
    });
    const byKey = await app.inject({ method: "POST", url: "/v1/auth/token", payload: { apiKey: keys.viewer } });
    expect(byKey.statusCode).toBe(200);
    for (const payload of [
      { username: "alice", password: "wrong password!" },
      { username: "nobody", password: PASSWORD },
      { apiKey: "vgk_nope" },
    ]) {
      const refused = await app.inject({ method: "POST", url: "/v1/auth/token", payload });
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error.code).toBe("UNAUTHENTICATED");
    }
  });

  it("lets producers and admins ingest, and refuses viewers and anonymous callers", async () => {
    const bearer = async (user: string) => ({ authorization: `Bearer ${(await token(user)).accessToken}` });
    const callers = [
      ["producer token", await bearer("pat"), 202],
      ["admin token", await bearer("alice"), 202],
      ["viewer token", await bearer("vic"), 403],
      ["producer key", { "x-api-key": keys.producer ?? "" }, 202],
      ["admin key", { "x-api-key": keys.admin ?? "" }, 202],
      ["viewer key", { "x-api-key": keys.viewer ?? "" }, 403],
      ["nobody", {}, 401],
    ] as const;
    for (const [who, headers, status] of callers) {
      const single = await app.inject({ method: "POST", url: "/v1/events", headers, payload: event() });
      expect(single.statusCode, who).toBe(status);
      const batch = await app.inject({
        method: "POST",
        url: "/v1/events/batch",
        headers,
        payload: { events: [event()] },
      });
      expect(batch.statusCode, who).toBe(status === 202 ? 200 : status);
    }
  });

  it("answers GET /v1/stats to viewers and admins only", async () => {
    const callers = [
      ["viewer", { "x-api-key": keys.viewer ?? "" }, 200],
      ["admin", { "x-api-key": keys.admin ?? "" }, 200],
      ["producer", { "x-api-key": keys.producer ?? "" }, 403],
      ["nobody", {}, 401],
    ] as const;
    for (const [who, headers, status] of callers) {
      const response = await app.inject({ method: "GET", url: "/v1/stats", headers });
      expect(response.statusCode, who).toBe(status);
      if (status === 200) expect(response.json()).toMatchObject({ received: expect.any(Number), activeWriters: 0 });
    }
  });

  it("refuses expired, foreign, unsigned, tampered and unknown-key tokens", async () => {
    const good = (await token("pat")).accessToken;
    const [header, payload, signature] = good.split(".") as [string, string, string];
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload)));
    const { kid } = JSON.parse(new TextDecoder().decode(base64url.decode(header)));
    const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
    const foreignKey = generateKeyPairSync("ed25519").privateKey;
    const ourKey = (await import("node:crypto")).createPrivateKey(signingKey);
    const forged = {
      expired: await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1_000) - 10 })
        .setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" })
        .sign(ourKey),
      "wrong signature": await new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" })
        .sign(foreignKey),
      "alg none": `${encode({ alg: "none", kid, typ: "JWT" })}.${payload}.`,
      "tampered claims": `${header}.${encode({ ...claims, role: "admin" })}.${signature}`,
      "unknown kid": await new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA", kid: "other", typ: "JWT" })
        .sign(ourKey),
    };
    for (const [what, forgedToken] of Object.entries(forged)) {
      const response = await app.inject({
        method: "POST",
        url: "/v1/events",
        headers: { authorization: `Bearer ${forgedToken}` },
        payload: event(),
      });
      expect(response.statusCode, what).toBe(401);
      expect(response.json().error.code, what).toBe("UNAUTHENTICATED");
    }
    const ok = await app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { authorization: `Bearer ${good}` },
      payload: event(),
    });
    expect(ok.statusCode).toBe(202);
  });

  it("rotates refresh tokens, and a reused one revokes its whole family", async () => {
    const first = await token("vic");
    const refresh = (refreshToken: string) =>
      app.inject({ method: "POST", url: "/v1/auth/refresh", payload: { refreshToken } });
    const second = await refresh(first.refreshToken);
    expect(second.statusCode).toBe(200);
    const next = second.json().refreshToken as string;
    expect(next).not.toBe(first.refreshToken);
    const reused = await refresh(first.refreshToken);
    expect(reused.statusCode).toBe(401);
    expect(reused.json().error.message).toMatch(/already used/);
    // The thief's use killed the family: the legitimate newest token is dead too.
    expect((await refresh(next)).statusCode).toBe(401);
  });

  it("logout revokes the caller's refresh family", async () => {
    const pair = await token("alice");
    const out = await app.inject({
      method: "POST",
      url: "/v1/auth/logout",
      headers: { authorization: `Bearer ${pair.accessToken}` },
    });
    expect(out.statusCode).toBe(204);
    const refreshed = await app.inject({
      method: "POST",
      url: "/v1/auth/refresh",
      payload: { refreshToken: pair.refreshToken },
    });
    expect(refreshed.statusCode).toBe(401);
  });

  it("stores a retried event once, and a batch's valid items beside its invalid ones", async () => {
    const headers = { "x-api-key": keys.producer ?? "" };
    const id = "0b5f3f4e-5d7c-4c1e-9a7e-3c2b1a0f9e8d";
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await app.inject({ method: "POST", url: "/v1/events", headers, payload: { ...event(9), id } });
      expect(response.statusCode).toBe(202);
      expect(response.json()).toEqual({ id });
    }
    const batch = await app.inject({
      method: "POST",
      url: "/v1/events/batch",
      headers,
      payload: { events: [event(1), { ...event(2), criticality: 11 }, "nope", { ...event(3), id }] },
    });
    expect(batch.statusCode).toBe(200);
    const body = batch.json();
    expect(body).toMatchObject({ accepted: 2, rejected: 2 });
    expect(body.results[1]).toMatchObject({
      index: 1,
      status: "rejected",
      error: { code: "INVALID_EVENT", issues: [{ path: "criticality" }] },
    });
    expect(body.results[2]).toMatchObject({ index: 2, status: "rejected" });
    const stored = await storedEvents();
    expect(stored.filter((e) => e.id === id)).toHaveLength(1);
    expect(stored.some((e) => e.id === body.results[0].id)).toBe(true);
    const invalid = await app.inject({
      method: "POST",
      url: "/v1/events",
      headers,
      payload: { ...event(), criticality: -1 },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error).toMatchObject({ code: "INVALID_EVENT", issues: [{ path: "criticality" }] });
    const tooMany = await app.inject({
      method: "POST",
      url: "/v1/events/batch",
      headers,
      payload: { events: Array.from({ length: 101 }, () => event()) },
    });
    expect(tooMany.statusCode).toBe(400);
  });

  it("answers 503 with Retry-After while NATS is away, and stores again once it is back", async () => {
    const headers = { "x-api-key": keys.producer ?? "" };
    connected = false;
    const down = await app.inject({ method: "POST", url: "/v1/events", headers, payload: event() });
    expect(down.statusCode).toBe(503);
    expect(down.headers["retry-after"]).toBe("2");
    expect(down.json().error.code).toBe("UNAVAILABLE");
    const batch = await app.inject({
      method: "POST",
      url: "/v1/events/batch",
      headers,
      payload: { events: [event()] },
    });
    expect(batch.statusCode).toBe(503);
    connected = true;
    expect((await app.inject({ method: "POST", url: "/v1/events", headers, payload: event() })).statusCode).toBe(202);
  });

  it("audits every authenticated action and authentication event, newest first, with no secret in any record", async () => {
    const run = `audit-${Date.now()}`;
    const id = (what: string) => `${run}-${what}`;
    const post = (url: string, what: string, payload: unknown, headers: Record<string, string> = {}) =>
      app.inject({
        method: "POST",
        url,
        payload: payload as object,
        headers: { ...headers, "x-request-id": id(what) },
      });
    const issued = await post("/v1/auth/token", "issued", { username: "vic", password: PASSWORD });
    const pair = issued.json() as { accessToken: string; refreshToken: string };
    secrets.add(pair.accessToken).add(pair.refreshToken);
    await post("/v1/auth/token", "wrong-password", { username: "vic", password: "not the password" });
    secrets.add("not the password");
    await post("/v1/auth/token", "wrong-key", { apiKey: "vgk_not-a-key-at-all" });
    secrets.add("vgk_not-a-key-at-all");
    const refreshed = await post("/v1/auth/refresh", "refreshed", { refreshToken: pair.refreshToken });
    secrets.add(refreshed.json().refreshToken).add(refreshed.json().accessToken);
    await post("/v1/auth/refresh", "reused", { refreshToken: pair.refreshToken });
    await post("/v1/events", "forbidden", event(), { authorization: `Bearer ${pair.accessToken}` });
    await post("/v1/events", "bad-token", event(), { authorization: "Bearer not.a.token" });
    await post("/v1/events", "ingested", event(), { "x-api-key": keys.producer ?? "" });
    const viewerRead = await app.inject({
      method: "GET",
      url: "/v1/audit",
      headers: { "x-api-key": keys.viewer ?? "", "x-request-id": id("viewer-read") },
    });
    expect(viewerRead.statusCode).toBe(403);
    await audit.flush();

    const read = await app.inject({
      method: "GET",
      url: "/v1/audit?limit=1000",
      headers: { "x-api-key": keys.admin ?? "" },
    });
    expect(read.statusCode).toBe(200);
    const records = read.json().records as AuditRecord[];
    const times = records.map((record) => Date.parse(record.time));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    const byId = (what: string) => records.filter((record) => record.requestId === id(what));
    const expectOne = (what: string, expected: Partial<AuditRecord>) => {
      expect(byId(what), what).toHaveLength(1);
      expect(byId(what)[0], what).toMatchObject({ clientAddress: "127.0.0.1", ...expected });
    };
    expectOne("issued", { actor: "vic", role: "viewer", action: "auth.token", outcome: "success", status: 200 });
    expectOne("wrong-password", {
      actor: "vic",
      role: null,
      action: "auth.token",
      outcome: "denied",
      code: "UNAUTHENTICATED",
    });
    expectOne("wrong-key", { actor: null, action: "auth.token", outcome: "denied" });
    expectOne("refreshed", { actor: "vic", role: "viewer", action: "auth.refresh", outcome: "success" });
    expectOne("reused", { actor: "vic", action: "auth.refresh.reuse", outcome: "denied", status: 401 });
    expectOne("forbidden", {
      actor: "vic",
      role: "viewer",
      action: "events.ingest",
      outcome: "denied",
      code: "FORBIDDEN",
    });
    expectOne("bad-token", { actor: null, action: "events.ingest", outcome: "denied", status: 401 });
    expectOne("ingested", {
      actor: "producer-key",
      role: "producer",
      action: "events.ingest",
      outcome: "success",
      status: 202,
    });
    expectOne("viewer-read", { actor: "viewer-key", action: "audit.read", outcome: "denied", status: 403 });

    // Everything the stream holds, not just this test's records.
    const everything = JSON.stringify(
      (
        await app.inject({ method: "GET", url: "/v1/audit?limit=1000", headers: { "x-api-key": keys.admin ?? "" } })
      ).json(),
    );
    for (const secret of secrets) expect(everything.includes(secret), "a secret is in the audit").toBe(false);
    const limited = await app.inject({
      method: "GET",
      url: "/v1/audit?limit=2",
      headers: { "x-api-key": keys.admin ?? "" },
    });
    expect(limited.json().records).toHaveLength(2);
  });
});
