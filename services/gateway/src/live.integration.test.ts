import { generateKeyPairSync, randomUUID } from "node:crypto";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  AuditStreamEnv,
  createConfirmedPublish,
  EventsStreamEnv,
  ensureAuditStream,
  ensureEventsStream,
  ensureLiveStream,
  LiveStreamEnv,
} from "@vigil/runtime";
import { EVENTS_SUBJECT, GATEWAY_REFRESH_BUCKET, LIVE_CONSUMER_PREFIXES, LIVE_STREAM } from "@vigil/shared";
import { createLogSink, type NatsServer, startNatsServer, waitFor } from "@vigil/testing";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { type AuditRecord, type AuditTrail, createAuditTrail } from "./audit/audit-trail.js";
import { type AccessTokens, createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, createUserLine, parseCredentials } from "./auth/credentials.js";
import type { Principal } from "./auth/principal.js";
import { createRefreshFamilies, type RefreshFamilies } from "./auth/refresh-families.js";
import { LIVE_CLOSE, LIVE_PROTOCOL } from "./live/frames.js";
import { createLiveMetrics } from "./live/live-metrics.js";
import { type LiveTail, type LiveTailSettings, startLiveTail } from "./live/live-tail.js";
import { type LiveClient, openLive, refuseLive } from "./live-client.fixture.js";
import { authRoutes } from "./routes/auth.js";
import { liveRoutes } from "./routes/live.js";
import { testSettings } from "./settings.fixture.js";

const PASSWORD = "correct horse battery staple";
const ORIGIN = "https://console.example.org";
const settings = testSettings({ corsOrigins: [ORIGIN] });
const LIVE_SETTINGS: LiveTailSettings = {
  maxClients: 50,
  maxBufferedBytes: 262_144,
  heartbeatMs: 500,
  sessionCheckMs: 200,
  feedIdleMs: 30_000,
  recentMessages: 0,
};

/** A gateway with the live tail (and sign-in, for logout) on its own NATS connection, listening. */
interface TestGateway {
  readonly app: GatewayApp;
  readonly tail: LiveTail;
  readonly url: string;
  readonly registry: Registry;
  close(): Promise<void>;
}

describe("the live tail on a real nats-server", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  let tokens: AccessTokens;
  let families: RefreshFamilies;
  let audit: AuditTrail;
  const logs = createLogSink("info");
  const keys: Record<string, string> = {};
  /** Callers whose role the test takes away, as an edited credentials file would. */
  const demoted = new Set<string>();
  const gateways: TestGateway[] = [];
  let gateway: TestGateway;
  let other: TestGateway;
  const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

  const startGateway = async (live: Partial<LiveTailSettings> = {}): Promise<TestGateway> => {
    const nc = await connect({ servers: nats.url });
    const credentials = await parseCredentials(credentialLines.join("\n"));
    const registry = new Registry();
    const tail = await startLiveTail({
      js: jetstream(nc),
      jsm: await jetstreamManager(nc, { checkAPI: false }),
      settings: { ...LIVE_SETTINGS, ...live },
      checks: {
        isRevoked: (family) => families.isRevoked(family),
        isCurrent: (principal: Principal) =>
          !demoted.has(principal.name) &&
          (credentials.hasUser(principal.name, principal.role) || credentials.hasKey(principal.name, principal.role)),
      },
      log: logs.log,
      metrics: createLiveMetrics(registry, () => tail.hub.size),
    });
    const app = await buildGateway({
      log: logs.log,
      settings,
      authenticator: createAuthenticator(tokens, credentials),
      routes: [
        authRoutes({ tokens, credentials, families, accessTokenTtlMs: settings.accessTokenTtlMs }),
        liveRoutes({ tail, corsOrigins: settings.corsOrigins, audit }),
      ],
      audit,
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const started: TestGateway = {
      app,
      tail,
      url: `ws://127.0.0.1:${port}/v1/live`,
      registry,
      async close() {
        await app.close();
        await tail.stop();
        await nc.close();
        gateways.splice(gateways.indexOf(started), 1);
      },
    };
    gateways.push(started);
    return started;
  };
  const credentialLines: string[] = [];

  const token = async (name: string, role: Principal["role"], ttl?: AccessTokens) =>
    (ttl ?? tokens).sign({ name, role, via: "token" }, `family-${randomUUID()}`);
  const bearer = async (name = "vic", role: Principal["role"] = "viewer") => ({
    authorization: `Bearer ${await token(name, role)}`,
  });

  const liveEnd = async () => (await jsm.streams.info(LIVE_STREAM)).state.last_seq;
  /**
   * Publishes events on `events`, as any producer does, one at a time; their messages, in order.
   * EVENTS republishes into LIVE after it acknowledges, so this also waits until LIVE holds them:
   * a test that reads LIVE's state next sees every one.
   */
  const publish = async (criticalities: readonly number[], message: string = randomUUID()): Promise<string[]> => {
    const js = jetstream(admin);
    const before = await liveEnd();
    const messages: string[] = [];
    for (const [i, criticality] of criticalities.entries()) {
      const eventMessage = `${message} #${i}`;
      await js.publish(
        EVENTS_SUBJECT,
        JSON.stringify({ criticality, timestamp: new Date().toISOString(), eventMessage, id: randomUUID() }),
      );
      messages.push(eventMessage);
    }
    await waitFor("LIVE to hold the published events", async () => (await liveEnd()) >= before + criticalities.length);
    return messages;
  };
  const messagesOf = (client: LiveClient) => client.events().map((frame) => frame.event.eventMessage);
  const cursorsOf = (client: LiveClient) => client.events().map((frame) => frame.cursor);
  const metric = async (app: TestGateway, name: string, labels: Record<string, string> = {}) =>
    (await app.registry.getSingleMetric(name)?.get())?.values.find((value) =>
      Object.entries(labels).every(([key, want]) => value.labels[key] === want),
    )?.value;

  beforeAll(async () => {
    nats = await startNatsServer();
    admin = await connect({ servers: nats.url });
    jsm = await jetstreamManager(admin);
    await ensureLiveStream(jsm, LiveStreamEnv.parse({}), logs.log);
    await ensureEventsStream(jsm, EventsStreamEnv.parse({}), logs.log);
    await ensureAuditStream(jsm, AuditStreamEnv.parse({}), logs.log);
    audit = createAuditTrail({ publisher: createConfirmedPublish(admin), jsm, log: logs.log, timeoutMs: 5_000 });
    credentialLines.push(
      await createUserLine("alice", "admin", PASSWORD),
      await createUserLine("pat", "producer", PASSWORD),
      await createUserLine("vic", "viewer", PASSWORD),
      await createUserLine("val", "viewer", PASSWORD),
    );
    for (const role of ["producer", "viewer"] as const) {
      const created = createApiKey(`${role}-key`, role);
      keys[role] = created.key;
      credentialLines.push(created.line);
    }
    tokens = await createAccessTokens(signingKey, settings.accessTokenTtlMs);
    const kv = await new Kvm(jetstream(admin)).create(GATEWAY_REFRESH_BUCKET, { ttl: settings.refreshTokenTtlMs });
    families = createRefreshFamilies(kv, settings.refreshTokenTtlMs);
    gateway = await startGateway();
    other = await startGateway();
  });

  afterAll(async () => {
    for (const running of [...gateways]) await running.close();
    await admin?.close();
    await nats?.dispose();
  });

  it("sends a viewer each new event as {type: event, cursor, event}, the cursor being the event's sequence in LIVE", async () => {
    const client = await openLive(gateway.url, { headers: await bearer() });
    const [message] = await publish([7]);
    await client.waitFor("the event", (c) => messagesOf(c).includes(message ?? ""));
    const [frame] = client.events();
    expect(frame).toMatchObject({ type: "event", event: { criticality: 7, eventMessage: message } });
    const stored = await jsm.streams.getMessage(LIVE_STREAM, { seq: frame?.cursor ?? 0 });
    expect(JSON.parse(stored?.string() ?? "{}").eventMessage).toBe(message);
    await client.close();
  });

  it("takes the access token from the header, the access_token parameter or a sub-protocol entry, and an API key", async () => {
    const ways = [
      { headers: await bearer("alice", "admin") },
      { query: { access_token: await token("vic", "viewer") } },
      { protocols: [LIVE_PROTOCOL, `bearer.${await token("vic", "viewer")}`] },
      { headers: { "x-api-key": keys.viewer ?? "" } },
    ];
    const clients = await Promise.all(ways.map((way) => openLive(gateway.url, way)));
    expect(clients[2]?.ws.protocol).toBe(LIVE_PROTOCOL);
    const [message] = await publish([3]);
    for (const client of clients) {
      await client.waitFor("the event", (c) => messagesOf(c).includes(message ?? ""));
      await client.close();
    }
  });

  it("refuses a producer (403), a caller without credentials (401), a bad cursor (400) and a plain GET (400)", async () => {
    const producer = await refuseLive(gateway.url, { headers: await bearer("pat", "producer") });
    expect(producer).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
    const producerKey = await refuseLive(gateway.url, { headers: { "x-api-key": keys.producer ?? "" } });
    expect(producerKey.status).toBe(403);
    expect(await refuseLive(gateway.url)).toMatchObject({ status: 401, body: { error: { code: "UNAUTHENTICATED" } } });
    const badToken = await refuseLive(gateway.url, { query: { access_token: "not.a.token" } });
    expect(badToken.status).toBe(401);
    for (const query of [{ after: "-1" }, { after: "1e3" }, { minCriticality: "high" }]) {
      expect(await refuseLive(gateway.url, { headers: await bearer(), query })).toMatchObject({
        status: 400,
        body: { error: { code: "BAD_REQUEST" } },
      });
    }
    const plain = await gateway.app.inject({ method: "GET", url: "/v1/live", headers: await bearer() });
    expect(plain.statusCode).toBe(400);
    expect(plain.json().error.message).toMatch(/WebSocket/);
    const elsewhere = await refuseLive(gateway.url.replace("/v1/live", "/v1/nowhere"), { headers: await bearer() });
    expect(elsewhere.status).toBe(404);
    // Node leaves the socket of an upgrade request to whoever took the 'upgrade' event: none of
    // the refused ones may stay open.
    await waitFor("the refused upgrades' sockets to close", async () => {
      const open = await new Promise<number>((resolve) => gateway.app.server.getConnections((_err, n) => resolve(n)));
      return open === 0;
    });
  });

  it("sends only events strictly above minCriticality", async () => {
    const client = await openLive(gateway.url, { headers: await bearer(), query: { minCriticality: 5 } });
    const messages = await publish([5, 6, 0, 10, 4]);
    await client.waitFor("the last critical event", (c) => messagesOf(c).includes(messages[3] ?? ""));
    expect(messagesOf(client)).toEqual([messages[1], messages[3]]);
    await client.close();
  });

  it("refuses a browser origin outside the CORS allowlist, and lets the allowed one and non-browsers in", async () => {
    const refused = await refuseLive(gateway.url, {
      headers: { ...(await bearer()), origin: "https://evil.example.com" },
    });
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "FORBIDDEN" } } });
    const allowed = await openLive(gateway.url, { headers: { ...(await bearer()), origin: ORIGIN } });
    await allowed.close();
  });

  it("resumes with after=<last cursor>: exactly the events published while away, in order, then the live ones", async () => {
    const first = await openLive(gateway.url, { headers: await bearer() });
    const before = await publish([1, 2]);
    await first.waitFor("two events", (c) => c.events().length === 2);
    expect(messagesOf(first)).toEqual(before);
    const last = cursorsOf(first).at(-1) ?? 0;
    await first.close();

    const missed = await publish([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1]);
    const resumed = await openLive(other.url, { headers: await bearer(), query: { after: last } });
    await resumed.waitFor("the missed events", (c) => c.events().length === missed.length);
    const live = await publish([3, 4, 5]);
    await resumed.waitFor("the live events", (c) => c.events().length === missed.length + live.length);
    expect(messagesOf(resumed)).toEqual([...missed, ...live]);
    const cursors = cursorsOf(resumed);
    expect(cursors).toEqual(Array.from({ length: cursors.length }, (_, i) => last + 1 + i));
    expect(resumed.frames.filter((frame) => frame.type === "gap")).toEqual([]);
    await resumed.close();
  });

  it("resumes on another gateway while events keep coming, without a gap or a duplicate", async () => {
    const first = await openLive(gateway.url, { headers: await bearer() });
    await publish([5]);
    await first.waitFor("an event", (c) => c.events().length === 1);
    const last = cursorsOf(first)[0] ?? 0;
    await first.close();
    await publish(Array.from({ length: 50 }, (_, i) => i % 11));
    // The replay and the shared feed run at the same time: events keep arriving during the resume.
    const publishing = publish(Array.from({ length: 50 }, (_, i) => i % 11));
    const resumed = await openLive(other.url, { headers: await bearer(), query: { after: last } });
    await publishing;
    const end = await liveEnd();
    await resumed.waitFor("every event up to the end", (c) => cursorsOf(c).at(-1) === end);
    expect(cursorsOf(resumed)).toEqual(Array.from({ length: end - last }, (_, i) => last + 1 + i));
    await resumed.close();
  });

  it("replays more small events than one fetch takes (the server ends a fetch of 100 with 409 Batch Completed)", async () => {
    const first = await openLive(gateway.url, { headers: await bearer() });
    await publish([5]);
    await first.waitFor("an event", (c) => c.events().length === 1);
    const last = cursorsOf(first)[0] ?? 0;
    await first.close();
    const missed = await publish(Array.from({ length: 250 }, (_, i) => i % 11));
    const resumed = await openLive(gateway.url, { headers: await bearer(), query: { after: last } });
    await resumed.waitFor("every missed event", (c) => c.events().length === missed.length || c.closed !== undefined);
    expect(resumed.closed).toBeUndefined();
    expect(messagesOf(resumed)).toEqual(missed);
    await resumed.close();
  });

  it("gives the same cursor for the same event on every gateway", async () => {
    const [a, b] = await Promise.all([gateway, other].map(async (g) => openLive(g.url, { headers: await bearer() })));
    const [message] = await publish([8]);
    for (const client of [a, b]) await client?.waitFor("the event", (c) => messagesOf(c).includes(message ?? ""));
    expect(a?.events()[0]?.cursor).toBe(b?.events()[0]?.cursor);
    expect(a?.events()[0]?.cursor).toBe(await liveEnd());
    await Promise.all([a?.close(), b?.close()]);
  });

  it("fans out to many clients from one consumer of LIVE per gateway", async () => {
    const clients = await Promise.all(
      Array.from({ length: 8 }, async (_, i) =>
        openLive((i % 2 === 0 ? gateway : other).url, { headers: await bearer() }),
      ),
    );
    const messages = await publish([1, 2, 3]);
    for (const client of clients) await client.waitFor("the events", (c) => c.events().length === 3);
    for (const client of clients) expect(messagesOf(client)).toEqual(messages);
    // The earlier tests' clients are gone once each gateway has seen their sockets close.
    await waitFor("eight clients on the shared feeds", () => gateway.tail.hub.joined + other.tail.hub.joined === 8);
    // Replays of the earlier tests delete their consumers once caught up; one feed per gateway stays.
    await waitFor("one consumer per gateway", async () => {
      return (await jsm.streams.info(LIVE_STREAM)).state.consumer_count === gateways.length;
    });
    const names: string[] = [];
    for await (const info of jsm.consumers.list(LIVE_STREAM)) names.push(info.name);
    for (const name of names) expect(name.startsWith(`${LIVE_CONSUMER_PREFIXES.feed}_`), name).toBe(true);
    await waitFor(
      "four clients in the metrics",
      async () => (await metric(gateway, "vigil_gateway_live_clients")) === 4,
    );
    expect(await metric(gateway, "vigil_gateway_live_frames_sent_total", { type: "event" })).toBeGreaterThanOrEqual(12);
    await Promise.all(clients.map((client) => client.close()));
  });

  it("answers a ping with a pong, sends heartbeats while idle, and closes on any other client frame (4000)", async () => {
    const client = await openLive(gateway.url, { headers: await bearer() });
    client.ws.send(JSON.stringify({ type: "ping" }));
    await client.waitFor("a pong", (c) => c.frames.some((frame) => frame.type === "pong"));
    await client.waitFor("a heartbeat", (c) => c.frames.some((frame) => frame.type === "heartbeat"));
    client.ws.send(JSON.stringify({ type: "subscribe", minCriticality: 1 }));
    expect(await client.waitForClose()).toEqual(LIVE_CLOSE.BAD_FRAME);
    const binary = await openLive(gateway.url, { headers: await bearer() });
    binary.ws.send(Buffer.from([1, 2, 3]));
    expect((await binary.waitForClose()).code).toBe(LIVE_CLOSE.BAD_FRAME.code);
    const huge = await openLive(gateway.url, { headers: await bearer() });
    huge.ws.send(JSON.stringify({ type: "ping", pad: "x".repeat(4_096) }));
    expect((await huge.waitForClose()).code).toBe(1009);
  });

  it("closes when the access token expires (4001)", async () => {
    const shortLived = await createAccessTokens(signingKey, 5_000);
    const client = await openLive(gateway.url, {
      headers: { authorization: `Bearer ${await token("vic", "viewer", shortLived)}` },
    });
    expect(await client.waitForClose()).toEqual(LIVE_CLOSE.TOKEN_EXPIRED);
  });

  it("closes on logout (4002) and when the caller's role is taken away (4003)", async () => {
    const signIn = await gateway.app.inject({
      method: "POST",
      url: "/v1/auth/token",
      payload: { username: "vic", password: PASSWORD },
    });
    const { accessToken } = signIn.json() as { accessToken: string };
    const signedIn = await openLive(gateway.url, { query: { access_token: accessToken } });
    const onOther = await openLive(other.url, { protocols: [LIVE_PROTOCOL, `bearer.${accessToken}`] });
    const logout = await gateway.app.inject({
      method: "POST",
      url: "/v1/auth/logout",
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(logout.statusCode).toBe(204);
    expect(await signedIn.waitForClose()).toEqual(LIVE_CLOSE.SESSION_REVOKED);
    expect(await onOther.waitForClose()).toEqual(LIVE_CLOSE.SESSION_REVOKED);
    expect((await refuseLive(gateway.url, { query: { access_token: accessToken } })).status).toBe(401);

    const val = await openLive(gateway.url, { headers: await bearer("val") });
    demoted.add("val");
    expect(await val.waitForClose()).toEqual(LIVE_CLOSE.ROLE_CHANGED);
    expect((await refuseLive(gateway.url, { headers: await bearer("val") })).status).toBe(403);
  });

  it("closes a client that stops reading (4004) while a fast client on the same gateway gets everything", async () => {
    const small = await startGateway({ maxBufferedBytes: 32_768 });
    const fast = await openLive(small.url, { headers: await bearer() });
    const slow = await openLive(small.url, { headers: await bearer() });
    slow.ws.pause();
    const start = await liveEnd();
    // Events of about 4 KiB (1,000 four-byte characters), until the slow client's bound is passed
    // once the kernel's socket buffers between it and the gateway are full.
    const big = "\u{1F512}".repeat(1_000);
    for (let round = 0; small.tail.hub.size === 2; round++) {
      if (round === 2_000) throw new Error("the slow client was never closed");
      await publish(
        Array.from({ length: 10 }, () => 9),
        `${big} ${round}`,
      );
      // Let the feed and the sockets catch up before judging again.
      await waitFor(
        "the gateway to have handed out what was published",
        async () => small.tail.hub.head === (await liveEnd()),
      );
    }
    expect(await metric(small, "vigil_gateway_live_closed_total", { reason: "too_slow" })).toBe(1);
    const end = await liveEnd();
    await fast.waitFor("every event", (c) => cursorsOf(c).at(-1) === end);
    expect(cursorsOf(fast)).toEqual(Array.from({ length: end - start }, (_, i) => start + 1 + i));
    slow.ws.resume();
    expect(await slow.waitForClose()).toEqual(LIVE_CLOSE.TOO_SLOW);
    // What it got is a prefix of the stream, in order: it resumes from its last cursor.
    const got = cursorsOf(slow);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => start + 1 + i));
    const resumed = await openLive(small.url, { headers: await bearer(), query: { after: got.at(-1) ?? start } });
    await resumed.waitFor("the rest", (c) => cursorsOf(c).at(-1) === end);
    expect([...got, ...cursorsOf(resumed)]).toEqual(cursorsOf(fast));
    await Promise.all([fast.close(), resumed.close()]);
    await small.close();
  });

  it("replays across a stored message larger than a replay batch", async () => {
    const small = await startGateway({ maxBufferedBytes: 32_768 });
    const first = await openLive(small.url, { headers: await bearer() });
    await publish([2]);
    await first.waitFor("an event", (c) => c.events().length === 1);
    const last = cursorsOf(first)[0] ?? 0;
    await first.close();
    await jetstream(admin).publish(EVENTS_SUBJECT, "x".repeat(100_000));
    const after = await publish([3, 4]);
    const resumed = await openLive(small.url, { headers: await bearer(), query: { after: last } });
    await resumed.waitFor("the events after the large message", (c) => c.events().length === 2);
    expect(messagesOf(resumed)).toEqual(after);
    await resumed.close();
    await small.close();
  });

  it("beyond the window, says which cursors were missed with a gap frame, then sends what is kept", async () => {
    const first = await openLive(gateway.url, { headers: await bearer() });
    await publish([1]);
    await first.waitFor("an event", (c) => c.events().length === 1);
    const last = cursorsOf(first)[0] ?? 0;
    await first.close();
    try {
      await ensureLiveStream(jsm, LiveStreamEnv.parse({ LIVE_MAX_MSGS: "10" }), logs.log);
      const missed = await publish(Array.from({ length: 30 }, () => 6));
      const { state } = await jsm.streams.info(LIVE_STREAM);
      const resumed = await openLive(gateway.url, { headers: await bearer(), query: { after: last } });
      await resumed.waitFor("the kept events", (c) => c.events().length === 10);
      expect(resumed.frames.filter((frame) => frame.type !== "heartbeat")[0]).toEqual({
        type: "gap",
        from: last + 1,
        to: state.first_seq - 1,
        missed: state.first_seq - 1 - last,
      });
      expect(messagesOf(resumed)).toEqual(missed.slice(-10));
      await resumed.close();
    } finally {
      await ensureLiveStream(jsm, LiveStreamEnv.parse({}), logs.log);
    }
  });

  it("closes a cursor beyond the newest event (4005)", async () => {
    const client = await openLive(gateway.url, {
      headers: await bearer(),
      query: { after: (await liveEnd()) + 1_000 },
    });
    expect(await client.waitForClose()).toEqual(LIVE_CLOSE.CURSOR_UNKNOWN);
  });

  it("audits each opened connection once, and never logs an access token", async () => {
    const accessToken = await token("vic", "viewer");
    const client = await openLive(gateway.url, {
      query: { access_token: accessToken },
      headers: { "x-request-id": "live-audit-probe" },
    });
    await client.close();
    await audit.flush();
    const records = (await audit.newest(1_000)).filter(
      (record: AuditRecord) => record.requestId === "live-audit-probe",
    );
    expect(records).toEqual([
      expect.objectContaining({
        actor: "vic",
        action: "live.read",
        outcome: "success",
        status: 101,
        target: "GET /v1/live",
      }),
    ]);
    const opened = logs.lines.find((line) => line.reqId === "live-audit-probe" && line.msg === "live tail opened");
    expect(JSON.stringify(opened)).toContain("access_token=[redacted]");
    expect(logs.lines.some((line) => JSON.stringify(line).includes(accessToken))).toBe(false);
  });

  it("tells its clients it is going away (1001) when it stops", async () => {
    const leaving = await startGateway();
    const client = await openLive(leaving.url, { headers: await bearer() });
    await leaving.close();
    expect(await client.waitForClose()).toEqual(LIVE_CLOSE.GOING_AWAY);
  });
});
