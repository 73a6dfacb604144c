/**
 * The live tail's shared feed follows `LIVE` only while the gateway has a client: the consumer
 * exists from the first connection on and is deleted once the last has been gone for the idle
 * time. Clients resuming across a stopped feed must still get every event once, in order. One
 * nats-server of its own, so that the feed consumers listed are this file's gateways' only.
 */
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { EventsStreamEnv, ensureEventsStream, ensureLiveStream, LiveStreamEnv } from "@vigil/runtime";
import { EVENTS_SUBJECT, LIVE_CONSUMER_PREFIXES, LIVE_STREAM } from "@vigil/shared";
import { createLogSink, type NatsServer, startNatsServer, waitFor } from "@vigil/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, parseCredentials } from "./auth/credentials.js";
import { type LiveTail, startLiveTail } from "./live/live-tail.js";
import { type LiveClient, openLive, refuseLive } from "./live-client.fixture.js";
import { liveRoutes } from "./routes/live.js";
import { testSettings } from "./settings.fixture.js";

/** Events stored while the gateway's event loop is held, more than its feed hands out in a moment. */
const BACKLOG = 30_000;

/**
 * Run by another process (with `NATS_URL`, `BACKLOG`, `EVENTS_SUBJECT`, `LIVE_STREAM`): publishes
 * `BACKLOG` valid events without waiting for each confirmation, then waits until `LIVE` holds them.
 */
const BACKLOG_PUBLISHER = `
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
const nc = await connect({ servers: process.env.NATS_URL });
const jsm = await jetstreamManager(nc);
const stream = process.env.LIVE_STREAM;
const target = (await jsm.streams.info(stream)).state.last_seq + Number(process.env.BACKLOG);
for (let i = 0; i < Number(process.env.BACKLOG); i++) {
  const event = { criticality: i % 11, timestamp: new Date().toISOString(), eventMessage: "backlog #" + i, id: crypto.randomUUID() };
  nc.publish(process.env.EVENTS_SUBJECT, JSON.stringify(event));
  if (i % 1000 === 999) await nc.flush();
}
await nc.flush();
const deadline = Date.now() + 50_000;
while ((await jsm.streams.info(stream)).state.last_seq < target) {
  if (Date.now() > deadline) throw new Error("LIVE did not take the backlog");
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await nc.close();
`;

/** Newest events each gateway keeps for resuming clients: fewer than the tests publish, so both paths run. */
const RECENT_MESSAGES = 1_000;

/** Short, so that the tests see the feed stop; long enough for nothing else to depend on it. */
const FEED_IDLE_MS = 300;
const UPSTREAM_HOLE = "events stored in EVENTS never reached LIVE: no live-tail client gets them";

interface TestGateway {
  readonly app: GatewayApp;
  readonly tail: LiveTail;
  readonly url: string;
  close(): Promise<void>;
}

describe("the live tail's shared feed, following LIVE only while a client is connected", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  const logs = createLogSink("info");
  const viewerKey = createApiKey("viewer-key", "viewer");
  const headers = { "x-api-key": viewerKey.key };
  const gateways: TestGateway[] = [];
  const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();

  const startGateway = async (recentMessages = RECENT_MESSAGES): Promise<TestGateway> => {
    const nc = await connect({ servers: nats.url });
    const tail = await startLiveTail({
      js: jetstream(nc),
      jsm: await jetstreamManager(nc, { checkAPI: false }),
      settings: {
        maxClients: 50,
        maxBufferedBytes: 262_144,
        heartbeatMs: 1_000,
        sessionCheckMs: 1_000,
        feedIdleMs: FEED_IDLE_MS,
        recentMessages,
      },
      checks: { isRevoked: async () => false, isCurrent: () => true },
      log: logs.log,
    });
    const app = await buildGateway({
      log: logs.log,
      settings: testSettings(),
      authenticator: createAuthenticator(
        await createAccessTokens(signingKey, 60_000),
        await parseCredentials(viewerKey.line),
      ),
      routes: [liveRoutes({ tail, corsOrigins: [] })],
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    const started: TestGateway = {
      app,
      tail,
      url: `ws://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/v1/live`,
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

  const liveEnd = async () => (await jsm.streams.info(LIVE_STREAM)).state.last_seq;
  /** The names of LIVE's consumers that are a gateway's shared feed. */
  const feedConsumers = async (): Promise<string[]> => {
    const names: string[] = [];
    for await (const info of jsm.consumers.list(LIVE_STREAM)) names.push(info.name);
    return names.filter((name) => name.startsWith(`${LIVE_CONSUMER_PREFIXES.feed}_`));
  };
  const waitForNoFeed = () =>
    waitFor("no feed consumer on LIVE", async () => (await feedConsumers()).length === 0, 30_000);
  /** Publishes events on `events`, one at a time, and waits until LIVE holds them; their messages. */
  const publish = async (count: number, message: string = randomUUID()): Promise<string[]> => {
    const js = jetstream(admin);
    const before = await liveEnd();
    const messages: string[] = [];
    for (let i = 0; i < count; i++) {
      const eventMessage = `${message} #${i}`;
      await js.publish(
        EVENTS_SUBJECT,
        JSON.stringify({ criticality: i % 11, timestamp: new Date().toISOString(), eventMessage, id: randomUUID() }),
      );
      messages.push(eventMessage);
    }
    await waitFor("LIVE to hold the published events", async () => (await liveEnd()) >= before + count);
    return messages;
  };
  const messagesOf = (client: LiveClient) => client.events().map((frame) => frame.event.eventMessage);
  const cursorsOf = (client: LiveClient) => client.events().map((frame) => frame.cursor);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const gapsOf = (client: LiveClient) => client.frames.filter((frame) => frame.type === "gap");
  /** A client that received one event, then left: its cursor, to resume from. */
  const cursorOfAClientThatLeft = async (gateway: TestGateway): Promise<number> => {
    const client = await openLive(gateway.url, { headers });
    await publish(1);
    await client.waitFor("an event", (c) => c.events().length === 1);
    await client.close();
    return cursorsOf(client)[0] ?? 0;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    admin = await connect({ servers: nats.url });
    jsm = await jetstreamManager(admin);
    await ensureLiveStream(jsm, LiveStreamEnv.parse({}), logs.log);
    await ensureEventsStream(jsm, EventsStreamEnv.parse({}), logs.log);
  });

  beforeEach(async () => {
    for (const running of [...gateways]) await running.close();
  });

  afterAll(async () => {
    for (const running of [...gateways]) await running.close();
    await admin?.close();
    await nats?.dispose();
  });

  it("has no feed consumer without a client, one from the first connection on, and none once the last has left", async () => {
    const gateway = await startGateway();
    await publish(3);
    expect(await feedConsumers()).toEqual([]);

    const client = await openLive(gateway.url, { headers });
    // The feed follows LIVE before the upgrade is answered: an event published now reaches the client.
    expect(await feedConsumers()).toHaveLength(1);
    const [message] = await publish(1);
    await client.waitFor("the event", (c) => messagesOf(c).includes(message ?? ""));
    expect(cursorsOf(client)).toEqual([await liveEnd()]);

    const second = await openLive(gateway.url, { headers });
    await client.close();
    const [next] = await publish(1);
    await second.waitFor("the next event", (c) => messagesOf(c).includes(next ?? ""));
    expect(await feedConsumers()).toHaveLength(1);
    await second.close();
    await waitForNoFeed();
    expect(logs.withMessage("the live feed stopped").length).toBeGreaterThanOrEqual(1);
  });

  it("starts one feed for clients connecting together, each from the next event, not from what came while it was stopped", async () => {
    const gateway = await startGateway();
    await cursorOfAClientThatLeft(gateway);
    await waitForNoFeed();
    await publish(5);
    const clients = await Promise.all(Array.from({ length: 6 }, () => openLive(gateway.url, { headers })));
    expect(await feedConsumers()).toHaveLength(1);
    const [message] = await publish(1);
    const end = await liveEnd();
    for (const client of clients) {
      await client.waitFor("the new event", (c) => c.events().length >= 1);
      expect(client.events()).toEqual([
        expect.objectContaining({ cursor: end, event: expect.objectContaining({ eventMessage: message }) }),
      ]);
    }
    await Promise.all(clients.map((client) => client.close()));
  });

  it("gives a client resuming across a stopped feed every event it missed, in order and once, then the new ones", async () => {
    const gateway = await startGateway();
    const last = await cursorOfAClientThatLeft(gateway);
    await waitForNoFeed();
    const missed = await publish(12);
    const resumed = await openLive(gateway.url, { headers, query: { after: last } });
    await resumed.waitFor("the missed events", (c) => c.events().length === missed.length);
    const live = await publish(3);
    await resumed.waitFor("the new events", (c) => c.events().length === missed.length + live.length);
    expect(messagesOf(resumed)).toEqual([...missed, ...live]);
    expect(cursorsOf(resumed)).toEqual(range(last + 1, last + missed.length + live.length));
    expect(gapsOf(resumed)).toEqual([]);
    // The events published while the feed was stopped are no hole upstream.
    expect(logs.withMessage(UPSTREAM_HOLE)).toEqual([]);
    await resumed.close();
  });

  it("switches a resumed client from its replay to a restarted feed while events keep coming, without a gap or a duplicate", async () => {
    const gateway = await startGateway();
    for (let round = 0; round < 3; round++) {
      const last = await cursorOfAClientThatLeft(gateway);
      await waitForNoFeed();
      await publish(30);
      // The feed starts, the replay runs and the client joins the feed while events arrive.
      const publishing = publish(60);
      const resumed = await openLive(gateway.url, { headers, query: { after: last } });
      await publishing;
      const end = await liveEnd();
      await resumed.waitFor("every event up to the end", (c) => cursorsOf(c).at(-1) === end);
      expect(cursorsOf(resumed)).toEqual(range(last + 1, end));
      expect(gapsOf(resumed)).toEqual([]);
      await resumed.close();
    }
  });

  /** Counts the replay consumers created on LIVE from now on (the JetStream API requests for them). */
  const countReplayConsumers = async () => {
    const sub = admin.subscribe(`$JS.API.CONSUMER.CREATE.${LIVE_STREAM}.>`);
    const created = { count: 0 };
    void (async () => {
      for await (const msg of sub) if (msg.subject.includes(LIVE_CONSUMER_PREFIXES.replay)) created.count++;
    })();
    await admin.flush();
    return { created, stop: () => sub.unsubscribe() };
  };
  /**
   * Opens a client resuming after `last` and waits until it has `missed`, each once, in order and
   * without a gap; `replayConsumers` counts the replay consumers created from its opening on.
   */
  const resumeCounting = async (gateway: TestGateway, last: number, missed: readonly string[]) => {
    const replays = await countReplayConsumers();
    const resumed = await openLive(gateway.url, { headers, query: { after: last } });
    await resumed.waitFor("the missed events", (c) => c.events().length === missed.length);
    expect(messagesOf(resumed)).toEqual(missed);
    expect(cursorsOf(resumed)).toEqual(range(last + 1, last + missed.length));
    expect(gapsOf(resumed)).toEqual([]);
    return { resumed, replayConsumers: () => replays.created.count, stopCounting: replays.stop };
  };

  it("replays a client that left for less than the gateway keeps in memory from there, with no consumer of its own", async () => {
    const gateway = await startGateway();
    const anchor = await openLive(gateway.url, { headers });
    const last = await cursorOfAClientThatLeft(gateway);
    const missed = await publish(20);
    const { resumed, replayConsumers, stopCounting } = await resumeCounting(gateway, last, missed);
    const live = await publish(2);
    await resumed.waitFor("the new events", (c) => c.events().length === missed.length + live.length);
    expect(messagesOf(resumed)).toEqual([...missed, ...live]);
    expect(cursorsOf(resumed)).toEqual(range(last + 1, last + missed.length + live.length));
    expect(gapsOf(resumed)).toEqual([]);
    expect(replayConsumers()).toBe(0);
    stopCounting();
    await Promise.all([anchor.close(), resumed.close()]);
  });

  it("restarts a feed after a pause shorter than its memory where it stopped, so that a client back from it replays from memory", async () => {
    const gateway = await startGateway();
    const last = await cursorOfAClientThatLeft(gateway);
    await waitForNoFeed();
    const { resumed, replayConsumers, stopCounting } = await resumeCounting(gateway, last, await publish(20));
    expect(replayConsumers()).toBe(0);
    stopCounting();
    await resumed.close();
  });

  it("replays what the gateway's memory no longer holds from LIVE, then the rest from memory, each event once and in order", async () => {
    const gateway = await startGateway();
    const anchor = await openLive(gateway.url, { headers });
    const last = await cursorOfAClientThatLeft(gateway);
    const missed = await publish(RECENT_MESSAGES + 200);
    const { resumed, replayConsumers, stopCounting } = await resumeCounting(gateway, last, missed);
    expect(replayConsumers()).toBe(1);
    stopCounting();
    await Promise.all([anchor.close(), resumed.close()]);
  });

  it("replays from a cursor newer than the head the feed stopped at, and joins at once with a cursor at the stream's end", async () => {
    const gateway = await startGateway();
    const stoppedAt = await cursorOfAClientThatLeft(gateway);
    await waitForNoFeed();
    expect(gateway.tail.hub.head).toBe(stoppedAt);
    await publish(10);
    const end = await liveEnd();
    // Cursors a client may have from another gateway, whose feed went on.
    const [between, atEnd] = await Promise.all([
      openLive(gateway.url, { headers, query: { after: stoppedAt + 4 } }),
      openLive(gateway.url, { headers, query: { after: end } }),
    ]);
    if (between === undefined || atEnd === undefined) throw new Error("two clients were opened");
    await between.waitFor("the events after its cursor", (c) => cursorsOf(c).at(-1) === end);
    const [message] = await publish(1);
    for (const client of [between, atEnd]) {
      await client.waitFor("the new event", (c) => messagesOf(c).includes(message ?? ""));
      expect(client.closed).toBeUndefined();
      expect(gapsOf(client)).toEqual([]);
    }
    expect(cursorsOf(between)).toEqual(range(stoppedAt + 5, end + 1));
    expect(cursorsOf(atEnd)).toEqual([end + 1]);
    expect(await feedConsumers()).toHaveLength(1);
    await Promise.all([between.close(), atEnd.close()]);
  });

  it("starts a client without after at the stream's end when the feed lags behind it, not at older events the feed still hands out", async () => {
    const gateway = await startGateway();
    const first = await openLive(gateway.url, { headers });
    const before = await liveEnd();
    // Another process stores a backlog while this one (the gateway's event loop) is held: the feed falls behind.
    execFileSync(process.execPath, ["--input-type=module", "-e", BACKLOG_PUBLISHER], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      env: { ...process.env, NATS_URL: nats.url, BACKLOG: String(BACKLOG), EVENTS_SUBJECT, LIVE_STREAM },
      timeout: 60_000,
    });
    const end = await liveEnd();
    expect(end).toBeGreaterThanOrEqual(before + BACKLOG);
    const late = await openLive(gateway.url, { headers });
    // The test means something only while the feed is still behind what the late client connected after.
    expect(gateway.tail.hub.head).toBeLessThan(end);
    const [message] = await publish(1);
    await late.waitFor("the event published after it connected", (c) => messagesOf(c).includes(message ?? ""));
    expect(cursorsOf(late)).toEqual([await liveEnd()]);
    // The client that was there all along gets the whole backlog, in order.
    await first.waitFor("the backlog and the new event", (c) => messagesOf(c).includes(message ?? ""), 60_000);
    expect(cursorsOf(first)).toEqual(range(before + 1, end + 1));
    await Promise.all([first.close(), late.close()]);
  });

  it("stops cleanly with a client connected, deleting its feed consumer", async () => {
    const gateway = await startGateway();
    const client = await openLive(gateway.url, { headers });
    expect(await feedConsumers()).toHaveLength(1);
    await gateway.close();
    expect((await client.waitForClose()).code).toBe(1001);
    expect(await feedConsumers()).toEqual([]);
  });

  it("answers 503 before the upgrade when the feed cannot follow LIVE", async () => {
    const gateway = await startGateway();
    await jsm.streams.delete(LIVE_STREAM);
    try {
      const refused = await refuseLive(gateway.url, { headers });
      expect(refused).toMatchObject({ status: 503, body: { error: { code: "UNAVAILABLE" } } });
      expect(gateway.tail.hub.size).toBe(0);
    } finally {
      await ensureLiveStream(jsm, LiveStreamEnv.parse({}), logs.log);
    }
    // LIVE was made again: its sequences start over, so the gateway is restarted (README).
    await gateway.close();
    const restarted = await startGateway();
    const client = await openLive(restarted.url, { headers });
    const [message] = await publish(1);
    await client.waitFor("the event", (c) => messagesOf(c).includes(message ?? ""));
    await client.close();
  });

  it("still refuses to start when LIVE cannot be read", async () => {
    const nc = await connect({ servers: nats.url });
    try {
      await expect(
        startLiveTail({
          js: jetstream(nc, { apiPrefix: "$JS.nowhere.API" }),
          jsm: await jetstreamManager(nc, { apiPrefix: "$JS.nowhere.API", checkAPI: false }),
          settings: {
            maxClients: 1,
            maxBufferedBytes: 65_536,
            heartbeatMs: 1_000,
            sessionCheckMs: 1_000,
            feedIdleMs: 0,
            recentMessages: 0,
          },
          checks: { isRevoked: async () => false, isCurrent: () => true },
          log: logs.log,
        }),
      ).rejects.toThrow();
    } finally {
      await nc.close();
    }
  });
});
