import { generateKeyPairSync, randomUUID } from "node:crypto";
import { connect as connectTcp } from "node:net";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type ConfirmedPublish,
  connectNats,
  createConfirmedPublish,
  createLogger,
  EventsStreamEnv,
  ensureEventsStream,
} from "@vigil/runtime";
import { decodeEvent, EVENTS_STREAM, SecurityEvent } from "@vigil/shared";
import { type NatsServer, readStreamPayloads, startNatsServer } from "@vigil/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, parseCredentials } from "./auth/credentials.js";
import { loadConfig } from "./config.js";
import { createEventIngest } from "./ingest.js";
import { eventRoutes } from "./routes/events.js";
import { testSettings } from "./settings.fixture.js";

const log = createLogger("gateway-hostile-test", "silent");
/** Short, so that a slow client is cut off quickly; the tests wait for the answer, not for a clock. */
const REQUEST_TIMEOUT_MS = 1_000;
const settings = testSettings({ bodyLimit: 65_536, requestTimeoutMs: REQUEST_TIMEOUT_MS, publishTimeoutMs: 5_000 });
/** How long a hostile connection may stay unanswered: its limit, the server's check interval, and slack for a busy machine. */
const ANSWER_DEADLINE_MS = REQUEST_TIMEOUT_MS + 10_000;

const event = () => ({
  id: randomUUID(),
  criticality: 3,
  timestamp: new Date().toISOString(),
  eventMessage: "hostile neighbours",
});

/** What came back on a raw connection before the server closed it. */
interface RawAnswer {
  readonly status: number | undefined;
  readonly body: string;
}

describe("the listening gateway under hostile clients, on a real nats-server", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let publisher: ConfirmedPublish;
  let app: GatewayApp;
  let port: number;
  let apiKey: string;

  const storedIds = async () =>
    (await readStreamPayloads(nc, EVENTS_STREAM)).map((payload) => {
      const decoded = decodeEvent(payload);
      if (!decoded.ok) throw new Error(decoded.rejection.reason);
      return decoded.event.id;
    });
  const postEvent = (payload: unknown) =>
    fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": apiKey },
      body: JSON.stringify(payload),
    });

  /**
   * Writes `head` (and `body`, if any) on a new connection and never sends the rest; resolves with
   * what the server answered once it closes the connection, or fails after {@link ANSWER_DEADLINE_MS}.
   */
  const sendAndStall = (head: string, body = ""): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      const socket = connectTcp({ host: "127.0.0.1", port });
      const chunks: Buffer[] = [];
      const deadline = setTimeout(() => {
        socket.destroy();
        reject(new Error(`the gateway left a stalled request unanswered for ${ANSWER_DEADLINE_MS} ms`));
      }, ANSWER_DEADLINE_MS);
      socket.on("connect", () => socket.write(head + body));
      socket.on("data", (chunk) => chunks.push(chunk));
      socket.on("error", () => {});
      socket.on("close", () => {
        clearTimeout(deadline);
        const text = Buffer.concat(chunks).toString("utf8");
        const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
        resolve({ status: status === undefined ? undefined : Number(status), body: text.split("\r\n\r\n")[1] ?? "" });
      });
    });

  const requestHead = (headers: Record<string, string>) =>
    `POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("")}\r\n`;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectNats(
      loadConfig({ NATS_URL: nats.url, GATEWAY_SIGNING_KEY_FILE: "x", GATEWAY_CREDENTIALS_FILE: "x" }).nats,
      "hostile-test",
      log,
    );
    await ensureEventsStream(await jetstreamManager(nc), EventsStreamEnv.parse({}), log);
    const created = createApiKey("hostile-producer", "producer");
    apiKey = created.key;
    const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    publisher = createConfirmedPublish(nc);
    app = await buildGateway({
      log,
      settings,
      authenticator: createAuthenticator(
        await createAccessTokens(signingKey, settings.accessTokenTtlMs),
        await parseCredentials(`${created.line}\n`),
      ),
      routes: [eventRoutes(createEventIngest({ publisher, connected: () => true, timeoutMs: 5_000 }))],
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === "string") throw new Error("the gateway does not listen on TCP");
    port = address.port;
  });
  afterAll(async () => {
    await app?.close();
    publisher?.close();
    await nc?.close();
    await nats?.dispose();
  });

  it("answers slow bodies and slow headers within the request timeout, and serves others meanwhile", async () => {
    const valid = event();
    const text = JSON.stringify(valid);
    const stalled = [
      // The body never ends.
      sendAndStall(
        requestHead({ "content-type": "application/json", "content-length": String(text.length), "x-api-key": apiKey }),
        text.slice(0, 10),
      ),
      // The headers never end.
      sendAndStall(`POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${apiKey}\r\n`),
    ];
    // A well-behaved client is not held up by them.
    const meanwhile = await postEvent(event());
    expect(meanwhile.status).toBe(202);
    for (const answer of await Promise.all(stalled)) {
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "BAD_REQUEST", limit: "requestTime" } });
    }
    expect(await storedIds()).not.toContain(valid.id);
  });

  it("refuses oversized headers with BAD_REQUEST, and stays up", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 17_000, max: 256_000 }),
        fc.integer({ min: 1, max: 400 }),
        async (bytes, count) => {
          const each = Math.ceil(bytes / count);
          const headers: Record<string, string> = { "content-type": "application/json", "content-length": "2" };
          for (let i = 0; i < count; i++) headers[`x-pad-${i}`] = "a".repeat(each);
          const answer = await sendAndStall(requestHead(headers), "{}");
          expect(answer.status).toBe(400);
          expect(JSON.parse(answer.body)).toMatchObject({ error: { code: "BAD_REQUEST", limit: "headerBytes" } });
        },
      ),
      { numRuns: 5 },
    );
    expect((await postEvent(event())).status).toBe(202);
  });

  it("stores the valid items of a batch mixed with hostile ones in the stream, once each", async () => {
    const hostile = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).filter((value) => !SecurityEvent.safeParse(value).success),
      fc.constant({ ...event(), criticality: 12 }),
      fc.constant({ ...event(), eventMessage: "" }),
    );
    const item = fc.oneof(
      fc.constant(null).map(() => ({ valid: true, event: event() as unknown })),
      hostile.map((value) => ({ valid: false, event: value })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 30 }), async (items) => {
        const response = await fetch(`http://127.0.0.1:${port}/v1/events/batch`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": apiKey },
          body: JSON.stringify({ events: items.map(({ event }) => event) }),
        });
        expect(response.status).toBe(200);
        const reply = (await response.json()) as { accepted: number; results: { status: string; id?: string }[] };
        const validIds = items.flatMap(({ valid, event }) => (valid ? [(event as { id: string }).id] : []));
        expect(reply.accepted).toBe(validIds.length);
        const stored = await storedIds();
        for (const id of validIds) expect(stored.filter((candidate) => candidate === id)).toHaveLength(1);
        for (const [index, { valid }] of items.entries()) {
          expect(reply.results[index]?.status).toBe(valid ? "accepted" : "rejected");
        }
      }),
      { numRuns: 5 },
    );
  });
});
