/**
 * The live tail across NATS accounts, as the deployment runs it: the streams live in one account,
 * the gateway in another that reaches their JetStream API only through imports remapped under a
 * prefix (NATS_STREAMS_API_PREFIX), and may publish nothing but the subjects listed here. Any
 * other JetStream API subject the live tail used would be a permissions violation, and this test
 * would fail: the list is the one the README gives for granting.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  checkLiveStream,
  createLogger,
  EventsStreamEnv,
  ensureEventsStream,
  ensureLiveStream,
  LiveStreamEnv,
} from "@vigil/runtime";
import { EVENTS_SUBJECT, LIVE_STREAM } from "@vigil/shared";
import { type NatsServer, startNatsServer, waitFor } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, parseCredentials } from "./auth/credentials.js";
import { type LiveTail, startLiveTail } from "./live/live-tail.js";
import { openLive } from "./live-client.fixture.js";
import { liveRoutes } from "./routes/live.js";
import { testSettings } from "./settings.fixture.js";

const log = createLogger("live-accounts-test", "silent");
const PREFIX = "$JS.events.API";
/** Every JetStream API subject the live tail uses on LIVE, relative to the API prefix. */
const LIVE_API = [
  "STREAM.INFO.LIVE",
  "CONSUMER.CREATE.LIVE.*",
  "CONSUMER.MSG.NEXT.LIVE.*",
  "CONSUMER.DELETE.LIVE.*",
  "CONSUMER.INFO.LIVE.*",
];

const config = `
accounts {
  EVENTS: {
    jetstream: enabled
    users: [{ user: writer, password: writer }]
    exports: [
${LIVE_API.map(
  (subject) =>
    `      { service: "$JS.API.${subject}", accounts: [GATEWAY]${subject.startsWith("CONSUMER.MSG.NEXT") ? ", response_type: stream" : ""} }`,
).join("\n")}
    ]
  }
  GATEWAY: {
    users: [{
      user: gateway, password: gateway,
      permissions: {
        publish: { allow: [${LIVE_API.map((subject) => `"${PREFIX}.${subject}"`).join(", ")}] }
        subscribe: { allow: ["_INBOX_gateway.>"] }
      }
    }]
    imports: [
${LIVE_API.map((subject) => `      { service: { account: EVENTS, subject: "$JS.API.${subject}" }, to: "${PREFIX}.${subject}" }`).join("\n")}
    ]
  }
}`;

describe("the live tail in its own NATS account, through an imported JetStream API prefix", () => {
  let nats: NatsServer;
  let writer: NatsConnection;
  let gatewayNc: NatsConnection;
  let tail: LiveTail;
  let app: GatewayApp;
  let url: string;
  let apiKey: string;
  const violations: string[] = [];

  beforeAll(async () => {
    nats = await startNatsServer({ config, probeAuth: { user: "writer", pass: "writer" } });
    writer = await connect({ servers: nats.url, user: "writer", pass: "writer" });
    const jsm = await jetstreamManager(writer);
    await ensureLiveStream(jsm, LiveStreamEnv.parse({}), log);
    await ensureEventsStream(jsm, EventsStreamEnv.parse({}), log);
    gatewayNc = await connect({ servers: nats.url, user: "gateway", pass: "gateway", inboxPrefix: "_INBOX_gateway" });
    void (async () => {
      for await (const status of gatewayNc.status()) {
        if (status.type === "error") violations.push(String(status.error));
      }
    })();
    const liveJsm = await jetstreamManager(gatewayNc, { apiPrefix: PREFIX, checkAPI: false });
    await checkLiveStream(liveJsm, LiveStreamEnv.parse({}));
    tail = await startLiveTail({
      js: jetstream(gatewayNc, { apiPrefix: PREFIX }),
      jsm: liveJsm,
      settings: {
        maxClients: 10,
        maxBufferedBytes: 65_536,
        heartbeatMs: 1_000,
        sessionCheckMs: 1_000,
        feedIdleMs: 30_000,
        recentMessages: 0,
      },
      checks: { isRevoked: async () => false, isCurrent: () => true },
      log,
    });
    const created = createApiKey("viewer-key", "viewer");
    apiKey = created.key;
    const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    app = await buildGateway({
      log,
      settings: testSettings(),
      authenticator: createAuthenticator(
        await createAccessTokens(signingKey, 60_000),
        await parseCredentials(created.line),
      ),
      routes: [liveRoutes({ tail, corsOrigins: [] })],
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    url = `ws://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/v1/live`;
  });

  afterAll(async () => {
    await app?.close();
    await tail?.stop();
    await gatewayNc?.close();
    await writer?.close();
    await nats?.dispose();
  });

  const publish = async (count: number) => {
    const messages: string[] = [];
    for (let i = 0; i < count; i++) {
      const eventMessage = `across accounts ${randomUUID()}`;
      await jetstream(writer).publish(
        EVENTS_SUBJECT,
        JSON.stringify({ criticality: 4, timestamp: new Date().toISOString(), eventMessage }),
      );
      messages.push(eventMessage);
    }
    return messages;
  };

  it("follows LIVE, replays it for a resuming client, and frees the replay's consumer, with nothing but those subjects", async () => {
    const first = await openLive(url, { headers: { "x-api-key": apiKey } });
    const [seen] = await publish(1);
    await first.waitFor("the event", (c) => c.events().some((frame) => frame.event.eventMessage === seen));
    const after = first.events().at(-1)?.cursor ?? 0;
    await first.close();
    const missed = await publish(5);
    const resumed = await openLive(url, { headers: { "x-api-key": apiKey }, query: { after } });
    await resumed.waitFor("the missed events", (c) => c.events().length === 5);
    expect(resumed.events().map((frame) => frame.event.eventMessage)).toEqual(missed);
    await resumed.close();
    const jsm = await jetstreamManager(writer);
    await waitFor("only the shared feed's consumer", async () => {
      return (await jsm.streams.info(LIVE_STREAM)).state.consumer_count === 1;
    });
    expect(violations).toEqual([]);
  });
});
