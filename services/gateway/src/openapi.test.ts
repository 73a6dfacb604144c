import { createLogger } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { type Authenticator, buildGateway } from "./app.js";
import type { AccessTokens } from "./auth/access-tokens.js";
import type { Credentials } from "./auth/credentials.js";
import type { RefreshFamilies } from "./auth/refresh-families.js";
import { ApiError } from "./errors.js";
import type { LiveTail } from "./live/live-tail.js";
import type { PipelineStats } from "./pipeline-stats.js";
import type { ReaderQueries } from "./reader-queries.js";
import { auditRoutes } from "./routes/audit.js";
import { authRoutes } from "./routes/auth.js";
import { eventRoutes } from "./routes/events.js";
import { liveRoutes } from "./routes/live.js";
import { readRoutes } from "./routes/reads.js";
import { statsRoutes } from "./routes/stats.js";
import { testSettings } from "./settings.fixture.js";

const settings = testSettings({ bodyLimit: 4_096, maxJsonDepth: 8, requestTimeoutMs: 5_000, publishTimeoutMs: 1_000 });
const nobody: Authenticator = {
  async authenticate() {
    throw new ApiError("UNAUTHENTICATED", "no");
  },
};
const unused = <T>() => ({}) as T;

describe("GET /v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document of every route, generated from the zod schemas, open to anyone", async () => {
    const app = await buildGateway({
      log: createLogger("gateway", "silent"),
      settings,
      authenticator: nobody,
      routes: [
        authRoutes({
          tokens: unused<AccessTokens>(),
          credentials: unused<Credentials>(),
          families: unused<RefreshFamilies>(),
          accessTokenTtlMs: 60_000,
        }),
        eventRoutes({ store: async () => "x" }),
        readRoutes(unused<ReaderQueries>()),
        statsRoutes(unused<PipelineStats>()),
        auditRoutes({ newest: async () => [] }),
        liveRoutes({ tail: { hub: { endAll: () => {} } } as unknown as LiveTail, corsOrigins: [] }),
      ],
    });
    const response = await app.inject({ method: "GET", url: "/v1/openapi.json" });
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/v1/aggregates",
      "/v1/audit",
      "/v1/auth/logout",
      "/v1/auth/refresh",
      "/v1/auth/token",
      "/v1/events",
      "/v1/events/batch",
      "/v1/live",
      "/v1/stats",
    ]);
    // The event's contract, as the route validates it.
    const event = doc.paths["/v1/events"].post.requestBody.content["application/json"].schema;
    expect(event.properties.criticality).toMatchObject({ type: "integer", minimum: 0, maximum: 10 });
    expect(event.required).toEqual(expect.arrayContaining(["criticality", "timestamp", "eventMessage"]));
    const minutes = doc.paths["/v1/aggregates"].get.parameters.find((p: { name: string }) => p.name === "minutes");
    expect(minutes).toMatchObject({ in: "query", required: true });
    const aggregates = doc.paths["/v1/aggregates"].get.responses["200"].content["application/json"].schema;
    expect(aggregates.required).toEqual(expect.arrayContaining(["from", "to", "total", "byCriticality", "perSecond"]));
    expect(doc.paths["/v1/audit"].get.summary).toBe("role admin");
    expect(doc.paths["/v1/events"].get.summary).toBe("role viewer (or admin)");
    expect(doc.paths["/v1/audit"].get.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(doc.paths["/v1/auth/token"].post.security).toBeUndefined();
    const live = doc.paths["/v1/live"].get;
    expect(live.summary).toBe("role viewer (or admin)");
    expect(live.description).toMatch(/WebSocket/);
    expect(live.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort()).toEqual([
      "query:access_token",
      "query:after",
      "query:minCriticality",
    ]);
    await app.close();
  });
});
