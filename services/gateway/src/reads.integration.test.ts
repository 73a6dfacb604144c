import { generateKeyPairSync } from "node:crypto";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
// The gateway does not depend on these; the test needs a real reader and real stored events.
import { createInfluxClient, encodePoints, type SequencedEvent } from "@vigil/influx";
import { loadConfig, type Reader, startReader } from "@vigil/reader";
import { createLogger } from "@vigil/runtime";
import { type Influxd, type NatsServer, startInfluxd, startNatsServer } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, parseCredentials } from "./auth/credentials.js";
import { createReaderQueries } from "./reader-queries.js";
import { readRoutes } from "./routes/reads.js";
import { testSettings } from "./settings.fixture.js";

const log = createLogger("gateway-reads-test", "silent");
const settings = testSettings();

describe("GET /v1/events and /v1/aggregates through a real reader", () => {
  let nats: NatsServer;
  let influx: Influxd;
  let nc: NatsConnection;
  let readerNc: NatsConnection;
  let reader: Reader | undefined;
  let app: GatewayApp;
  const keys: Record<string, string> = {};
  const now = Date.now();
  const stored: SequencedEvent[] = Array.from({ length: 12 }, (_, i) => ({
    event: { criticality: i % 11, timestamp: new Date(now - (12 - i) * 1_000).toISOString(), eventMessage: `e${i}` },
    sequence: i + 1,
  }));

  const get = (url: string, role: string | undefined) =>
    app.inject({ method: "GET", url, headers: role === undefined ? {} : { "x-api-key": keys[role] ?? "" } });

  const startOne = async () => {
    readerNc = await connect({ servers: nats.url });
    reader = await startReader(
      { nc: readerNc, influx: createInfluxClient({ ...influx.config("reader"), timeoutMs: 2_000 }), log },
      { ...loadConfig({}).settings, queryTimeoutMs: 2_000, maxConcurrent: 4, maxQueued: 10, healthIntervalMs: 500 },
    );
  };

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("gateway_reads")]);
    await influx.client("writer").write(encodePoints(stored));
    nc = await connect({ servers: nats.url });
    await startOne();
    const lines: string[] = [];
    for (const role of ["producer", "viewer", "admin"] as const) {
      const created = createApiKey(`${role}-key`, role);
      keys[role] = created.key;
      lines.push(created.line);
    }
    const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    app = await buildGateway({
      log,
      settings,
      authenticator: createAuthenticator(
        await createAccessTokens(signingKey, settings.accessTokenTtlMs),
        await parseCredentials(lines.join("\n")),
      ),
      routes: [readRoutes(createReaderQueries({ nc, connected: () => true, timeoutMs: 5_000 }))],
    });
  });
  afterAll(async () => {
    await app?.close();
    await reader?.stop();
    await Promise.allSettled([nc?.close(), readerNc?.close()]);
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  it("answers viewers and admins with the reader's events, newest first", async () => {
    for (const role of ["viewer", "admin"]) {
      const response = await get("/v1/events?minCriticality=5&limit=3", role);
      expect(response.statusCode, role).toBe(200);
      expect(response.json().events.map((e: { eventMessage: string }) => e.eventMessage)).toEqual(["e10", "e9", "e8"]);
    }
    const all = await get("/v1/events?minCriticality=-1", "viewer");
    expect(all.json().events).toHaveLength(10);
  });

  it("answers aggregates over the window", async () => {
    const response = await get("/v1/aggregates?minutes=5", "viewer");
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.total).toBe(12);
    expect(body.byCriticality).toMatchObject({ "0": 2, "1": 1, "5": 1, "10": 1 });
    expect(Object.keys(body.byCriticality)).toHaveLength(11);
    expect(body.perSecond).toBeCloseTo(12 / 300, 10);
  });

  it("refuses producers and anonymous callers, and bad query strings before asking the reader", async () => {
    for (const url of ["/v1/events?minCriticality=1", "/v1/aggregates?minutes=5"]) {
      expect((await get(url, "producer")).statusCode, url).toBe(403);
      expect((await get(url, undefined)).statusCode, url).toBe(401);
    }
    for (const url of [
      "/v1/events",
      "/v1/events?minCriticality=",
      "/v1/events?minCriticality=1e3",
      "/v1/events?minCriticality=1&limit=0",
      "/v1/events?minCriticality=1&limit=1001",
      "/v1/aggregates?minutes=0",
      "/v1/aggregates?minutes=1441",
      "/v1/aggregates?minutes=5%20OR%201=1",
    ]) {
      const response = await get(url, "viewer");
      expect(response.statusCode, url).toBe(400);
      expect(response.json().error.code, url).toBe("BAD_REQUEST");
    }
  });

  it("answers 503 with Retry-After while no reader answers, and 200 again once one does", async () => {
    await reader?.stop();
    await readerNc.close();
    for (const url of ["/v1/events?minCriticality=1", "/v1/aggregates?minutes=5"]) {
      const response = await get(url, "viewer");
      expect(response.statusCode, url).toBe(503);
      expect(response.headers["retry-after"], url).toBe("2");
      expect(response.json().error.code, url).toBe("UNAVAILABLE");
    }
    await startOne();
    expect((await get("/v1/events?minCriticality=1", "viewer")).statusCode).toBe(200);
  });

  it("answers 503 with Retry-After when the reader says its storage is unavailable", async () => {
    await influx.stop();
    for (const url of ["/v1/events?minCriticality=1", "/v1/aggregates?minutes=5"]) {
      const response = await get(url, "viewer");
      expect(response.statusCode, url).toBe(503);
      expect(response.headers["retry-after"], url).toBe("2");
      expect(response.json().error.message, url).toMatch(/InfluxDB is unavailable/);
    }
  });
});
