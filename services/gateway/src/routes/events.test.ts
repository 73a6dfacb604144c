import { randomUUID } from "node:crypto";
import { createLogger } from "@vigil/runtime";
import fc from "fast-check";
import { serializerCompiler } from "fastify-type-provider-zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ZodType } from "zod";
import { type Authenticator, buildGateway, type GatewayApp } from "../app.js";
import { ApiError } from "../errors.js";
import type { EventIngest } from "../ingest.js";
import { testSettings } from "../settings.fixture.js";
import { AcceptedEvent, BatchReply, eventRoutes, MAX_BATCH_LENGTH } from "./events.js";

const RUNS = { numRuns: 60 };

const producer: Authenticator = {
  async authenticate() {
    return { name: "sensor-7", role: "producer", via: "apiKey" };
  },
};

/** Stores every event except those whose message names a failure, which it refuses as the real ingest would. */
const ingest: EventIngest = {
  async store(event) {
    if (event.eventMessage === "unavailable") throw new ApiError("UNAVAILABLE", "JetStream could not take the event");
    if (event.eventMessage === "too large") throw new ApiError("PAYLOAD_TOO_LARGE", "the event is too large");
    return event.id ?? randomUUID();
  },
};

/** What fastify-type-provider-zod's serializer writes for `data`: zod's encoding of it, in the schema's key order. */
const zodBytes = (schema: ZodType, url: string, status: string, data: unknown): string =>
  serializerCompiler({ schema, method: "POST", url, httpStatus: status })(data);

const item = fc.oneof(
  fc.record(
    {
      criticality: fc.integer({ min: 0, max: 10 }),
      timestamp: fc.constant("2026-12-02T10:00:00.000Z"),
      eventMessage: fc.constantFrom("login failed", "unavailable", "too large"),
      id: fc.uuid({ version: 4 }),
      source: fc.constant("sensor-7"),
    },
    { requiredKeys: ["criticality", "timestamp", "eventMessage"] },
  ),
  fc.record({ criticality: fc.constantFrom(11, -1, "high"), timestamp: fc.constant("yesterday") }),
  fc.jsonValue({ maxDepth: 2 }),
);

describe("the ingest routes' replies, written as the routes build them", () => {
  let app: GatewayApp;
  beforeAll(async () => {
    app = await buildGateway({
      log: createLogger("events-routes-test", "silent"),
      settings: testSettings({ bodyLimit: 1_048_576 }),
      authenticator: producer,
      routes: [eventRoutes(ingest)],
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  it("compares bytes: zod's serializer reorders keys and drops unknown ones", () => {
    const reordered = '{"rejected":0,"accepted":1,"results":[]}';
    expect(zodBytes(BatchReply, "/v1/events/batch", "200", JSON.parse(reordered))).not.toBe(reordered);
    const extra = '{"id":"0b5c1bd0-9f4e-4d39-9a6e-5a3f4f1b2c3d","more":1}';
    expect(zodBytes(AcceptedEvent, "/v1/events", "202", JSON.parse(extra))).not.toBe(extra);
  });

  it("answers a batch with the very bytes zod's serializer would write", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: MAX_BATCH_LENGTH }), async (events) => {
        const response = await app.inject({ method: "POST", url: "/v1/events/batch", payload: { events } });
        if (response.statusCode === 503) return; // every stored item was refused as unavailable: an error reply
        expect(response.statusCode).toBe(200);
        expect(response.body).toBe(zodBytes(BatchReply, "/v1/events/batch", "200", JSON.parse(response.body)));
        expect(response.json().results).toHaveLength(events.length);
      }),
      RUNS,
    );
  });

  it("answers one event with the very bytes zod's serializer would write", async () => {
    for (const id of [undefined, randomUUID()]) {
      const response = await app.inject({
        method: "POST",
        url: "/v1/events",
        payload: { criticality: 3, timestamp: "2026-12-02T10:00:00Z", eventMessage: "login failed", id },
      });
      expect(response.statusCode).toBe(202);
      expect(response.body).toBe(zodBytes(AcceptedEvent, "/v1/events", "202", JSON.parse(response.body)));
    }
  });
});
