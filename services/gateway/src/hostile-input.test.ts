import { generateKeyPairSync, randomUUID } from "node:crypto";
import type { PubAck } from "@nats-io/jetstream";
import type { ConfirmedPublish } from "@vigil/runtime";
import { createLogger } from "@vigil/runtime";
import { decodeEvent, MAX_EVENT_MESSAGE_LENGTH, SecurityEvent } from "@vigil/shared";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGateway, type GatewayApp } from "./app.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { createApiKey, parseCredentials } from "./auth/credentials.js";
import { API_ERROR_STATUS } from "./errors.js";
import { createEventIngest } from "./ingest.js";
import { eventRoutes } from "./routes/events.js";
import { testSettings } from "./settings.fixture.js";

const settings = testSettings({ bodyLimit: 65_536, requestTimeoutMs: 5_000, publishTimeoutMs: 1_000 });
/** Enough runs to find the usual suspects, few enough for a busy 2-core machine. */
const RUNS = { numRuns: 60 };

const validEvent = fc
  .record(
    {
      criticality: fc.integer({ min: 0, max: 10 }),
      timestamp: fc
        .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
        .map((date) => date.toISOString()),
      eventMessage: fc.string({ minLength: 1, maxLength: 80, unit: "grapheme" }),
      source: fc.stringMatching(/^[A-Za-z0-9._-]{1,32}$/),
    },
    { requiredKeys: ["criticality", "timestamp", "eventMessage"] },
  )
  // A fresh id each: fast-check's uuids favour a few small values, and one id is stored once.
  .map((event) => ({ ...event, id: randomUUID() }));

/** Keys that reach `Object.prototype` or a constructor when code merges objects carelessly. */
const pollutingKey = fc.constantFrom("__proto__", "constructor", "prototype");

/** Raw JSON text of a valid event with prototype-polluting members inserted among its own. */
const pollutedEventText = fc
  .tuple(validEvent, fc.array(fc.tuple(pollutingKey, fc.jsonValue({ maxDepth: 3 })), { minLength: 1, maxLength: 3 }))
  .map(([event, extras]) => {
    const own = JSON.stringify(event).slice(1, -1);
    const hostile = extras.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify({ polluted: value })}`);
    return { event, text: `{${[...hostile, own].join(",")}}` };
  });

/** Byte sequences no UTF-8 decoder may accept: lone continuations, overlongs, surrogates, truncations, 0xF5-0xFF. */
const invalidUtf8 = fc.constantFrom(
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
  [0xf5],
  [0xff],
  [0xfe, 0xff],
);

describe("the gateway's ingest under hostile input", () => {
  let app: GatewayApp;
  let apiKey: string;
  const stored: SecurityEvent[] = [];

  beforeAll(async () => {
    const created = createApiKey("fuzz-producer", "producer");
    apiKey = created.key;
    const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    // An in-memory stream: what it keeps is what the gateway confirmed, decoded as the writers would.
    const publisher: ConfirmedPublish = {
      async publish(_subject, payload) {
        const decoded = decodeEvent(payload);
        if (!decoded.ok)
          throw new Error(`the gateway published an event the writers refuse: ${decoded.rejection.reason}`);
        stored.push(decoded.event);
        return { stream: "EVENTS", seq: stored.length, duplicate: false } as PubAck;
      },
      close() {},
    };
    app = await buildGateway({
      log: createLogger("gateway-fuzz", "silent"),
      settings,
      authenticator: createAuthenticator(
        await createAccessTokens(signingKey, settings.accessTokenTtlMs),
        await parseCredentials(`${created.line}\n`),
      ),
      routes: [eventRoutes(createEventIngest({ publisher, connected: () => true, timeoutMs: 1_000 }))],
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = (url: string, payload: string | Buffer, contentType = "application/json") =>
    app.inject({ method: "POST", url, headers: { "x-api-key": apiKey, "content-type": contentType }, payload });

  /** The answer is the contract's error shape, with a code whose status it carries. */
  const expectError = (response: Awaited<ReturnType<typeof post>>, code: keyof typeof API_ERROR_STATUS) => {
    expect(response.statusCode, response.body).toBe(API_ERROR_STATUS[code]);
    const { error } = response.json() as { error: { code: string; message: string; requestId: string } };
    expect(error.code).toBe(code);
    expect(error.message).toEqual(expect.any(String));
    expect(error.requestId).toBe(response.headers["x-request-id"]);
    return error;
  };

  it("answers arbitrary bytes as JSON with a 4xx of the contract, or accepts them when they are a valid event", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        const response = await post("/v1/events", Buffer.from(bytes));
        if (response.statusCode === 202) return;
        expect(["BAD_REQUEST", "INVALID_EVENT"]).toContain(response.json().error.code);
        expect(response.statusCode).toBe(400);
      }),
      RUNS,
    );
  });

  it("refuses malformed JSON text with BAD_REQUEST", async () => {
    const malformed = fc.oneof(
      fc
        .json()
        .map((text) => text.slice(0, Math.max(0, text.length - 1)))
        .filter((text) => !isJson(text)),
      fc.string().filter((text) => !isJson(text)),
      fc.constantFrom("{", "}", "[1,]", '{"a":}', "{'a':1}", "NaN", "undefined", '{"a":1}}', "\u0000", "01", "1e"),
    );
    await fc.assert(
      fc.asyncProperty(malformed, async (text) => {
        const error = expectError(await post("/v1/events", text), "BAD_REQUEST");
        expect(error.message).toMatch(/JSON|empty/);
      }),
      RUNS,
    );
  });

  it("answers any JSON value as the contract says: 202 for an event, INVALID_EVENT with issues otherwise", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue({ maxDepth: 6 }), validEvent), async (value) => {
        const response = await post("/v1/events", JSON.stringify(value));
        if (SecurityEvent.safeParse(value).success) {
          expect(response.statusCode, response.body).toBe(202);
          return;
        }
        const error = expectError(response, "INVALID_EVENT") as unknown as { issues: unknown[] };
        expect(error.issues.length).toBeGreaterThan(0);
        expect(error.issues[0]).toEqual({ path: expect.any(String), message: expect.any(String) });
      }),
      RUNS,
    );
  });

  it("refuses JSON nested deeper than the limit before parsing it, and counts no bracket inside a string", async () => {
    const nested = fc
      .tuple(fc.integer({ min: settings.maxJsonDepth + 1, max: 100_000 }), fc.array(fc.boolean(), { minLength: 1 }))
      .map(([depth, kinds]) => {
        let open = "";
        let close = "";
        for (let level = 0; level < depth; level++) {
          const object = kinds[level % kinds.length];
          open += object ? '{"a":' : "[";
          close = (object ? "}" : "]") + close;
        }
        return { open, text: `${open}1${close}` };
      })
      .filter(({ text }) => Buffer.byteLength(text) <= settings.bodyLimit);
    await fc.assert(
      fc.asyncProperty(nested, async ({ open, text }) => {
        const response = await post("/v1/events", text);
        expect(expectError(response, "BAD_REQUEST")).toMatchObject({ limit: "jsonDepth" });
        // Unclosed, the same hostile prefix is still refused for its depth, not left to the parser.
        const unclosed = await post("/v1/events", open);
        expect(expectError(unclosed, "BAD_REQUEST")).toMatchObject({ limit: "jsonDepth" });
      }),
      { numRuns: 20 },
    );
    const brackets = "[{".repeat(200).slice(0, MAX_EVENT_MESSAGE_LENGTH);
    const inString = await post(
      "/v1/events",
      JSON.stringify({ criticality: 1, timestamp: "2026-01-01T00:00:00Z", eventMessage: brackets }),
    );
    expect(inString.statusCode, inString.body).toBe(202);
  });

  it("stores events with __proto__ and constructor keys without those keys, and pollutes no prototype", async () => {
    await fc.assert(
      fc.asyncProperty(pollutedEventText, async ({ event, text }) => {
        const response = await post("/v1/events", text);
        expect(response.statusCode, response.body).toBe(202);
        const kept = stored.find((candidate) => candidate.id === event.id);
        expect(kept).toEqual(event);
        expect(Object.keys(kept ?? {}).sort()).toEqual(Object.keys(event).sort());
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.hasOwn(Object.prototype, "polluted")).toBe(false);
      }),
      RUNS,
    );
    const batchText = `{"__proto__":{"events":[]},"constructor":{"prototype":{"x":1}},"events":[${(
      await fc.sample(pollutedEventText, 3)
    )
      .map(({ text }) => text)
      .join(",")}]}`;
    const batch = await post("/v1/events/batch", batchText);
    expect(batch.statusCode, batch.body).toBe(200);
    expect(batch.json()).toMatchObject({ accepted: 3, rejected: 0 });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("refuses huge and inexact numbers where the contract wants a small integer", async () => {
    const hostileNumber = fc.oneof(
      fc.constantFrom("1e400", "-1e400", "1e308", "123456789012345678901234567890", "9007199254740993", "5.000000001"),
      fc.constantFrom("-0.5", "10.5", "11", "-1", "1e2", "1.5e1"),
      fc
        .double({ noNaN: true, noDefaultInfinity: true })
        .filter((n) => !Number.isInteger(n) || n < 0 || n > 10)
        .map(String),
      fc.bigInt({ min: 11n, max: 10n ** 400n }).map(String),
    );
    await fc.assert(
      fc.asyncProperty(hostileNumber, async (literal) => {
        const text = `{"criticality":${literal},"timestamp":"2026-01-01T00:00:00Z","eventMessage":"m"}`;
        const error = expectError(await post("/v1/events", text), "INVALID_EVENT") as unknown as {
          issues: { path: string }[];
        };
        expect(new Set(error.issues.map((issue) => issue.path))).toEqual(new Set(["criticality"]));
      }),
      RUNS,
    );
  });

  it("refuses huge strings with INVALID_EVENT, or PAYLOAD_TOO_LARGE past the body limit", async () => {
    const length = fc.integer({ min: MAX_EVENT_MESSAGE_LENGTH + 1, max: settings.bodyLimit * 2 });
    const field = fc.constantFrom("eventMessage", "source", "timestamp", "id", "junk");
    await fc.assert(
      fc.asyncProperty(length, field, fc.constantFrom("x", "é", "😀"), async (size, name, unit) => {
        const event = {
          criticality: 1,
          timestamp: "2026-01-01T00:00:00Z",
          eventMessage: "m",
          [name]: unit.repeat(size),
        };
        const text = JSON.stringify(event);
        const response = await post("/v1/events", text);
        if (Buffer.byteLength(text) > settings.bodyLimit) {
          expect(expectError(response, "PAYLOAD_TOO_LARGE")).toMatchObject({ limit: "bodyBytes" });
        } else if (name === "junk") {
          expect(response.statusCode, response.body).toBe(202);
        } else {
          const error = expectError(response, "INVALID_EVENT") as unknown as { issues: { path: string }[] };
          expect(error.issues.map((issue) => issue.path)).toContain(name);
        }
      }),
      { numRuns: 30 },
    );
  });

  it("refuses bodies that are not UTF-8 with BAD_REQUEST and stores nothing of them", async () => {
    await fc.assert(
      fc.asyncProperty(validEvent, invalidUtf8, fc.nat(), async (event, bad, at) => {
        const [before, after] = [
          JSON.stringify(event).split('"eventMessage":"')[0],
          JSON.stringify(event).split('"eventMessage":"')[1],
        ];
        const message = Buffer.from(after ?? "");
        const cut = at % Math.max(1, message.indexOf('"'));
        const body = Buffer.concat([
          Buffer.from(`${before}"eventMessage":"`),
          message.subarray(0, cut),
          Buffer.from(bad),
          message.subarray(cut),
        ]);
        const error = expectError(await post("/v1/events", body), "BAD_REQUEST");
        expect(error.message).toMatch(/UTF-8/);
        expect(stored.some((candidate) => candidate.id === event.id)).toBe(false);
      }),
      RUNS,
    );
  });

  it("refuses every body type but JSON with UNSUPPORTED_MEDIA_TYPE", async () => {
    const contentType = fc.oneof(
      fc.constantFrom(
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
        "application/jsonp",
        "application/json-seq",
        "application/x-ndjson",
        "application/octet-stream",
      ),
      fc
        .tuple(fc.stringMatching(/^[a-z]{1,12}$/), fc.stringMatching(/^[a-z0-9.+-]{1,20}$/))
        .map(([type, subtype]) => `${type}/${subtype}`)
        .filter((type) => type !== "application/json"),
    );
    await fc.assert(
      fc.asyncProperty(contentType, validEvent, async (type, event) => {
        expectError(await post("/v1/events", JSON.stringify(event), type), "UNSUPPORTED_MEDIA_TYPE");
        expect(stored.some((candidate) => candidate.id === event.id)).toBe(false);
      }),
      RUNS,
    );
    const missing = await app.inject({
      method: "POST",
      url: "/v1/events",
      headers: { "x-api-key": apiKey },
      payload: Buffer.from('{"criticality":1}'),
    });
    expect(missing.statusCode).toBe(415);
    expect(missing.json().error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("stores every valid item of a batch that mixes them with hostile ones, and says why each other was refused", async () => {
    // Items as JSON text, so that a number too large for a double reaches the gateway as it was sent.
    const hostileItem = fc.oneof(
      fc
        .jsonValue({ maxDepth: 4 })
        .filter((value) => !SecurityEvent.safeParse(value).success)
        .map((value) => JSON.stringify(value)),
      validEvent.map((event) => JSON.stringify(event).replace(/"criticality":\d+/, '"criticality":1e400')),
      validEvent.map((event) => JSON.stringify({ ...event, eventMessage: "x".repeat(MAX_EVENT_MESSAGE_LENGTH + 1) })),
      validEvent.map((event) => JSON.stringify({ ...event, timestamp: "2026-02-30T00:00:00Z" })),
      validEvent.map((event) => JSON.stringify({ ...event, eventMessage: "\ud800" })),
    );
    const item = fc.oneof(
      validEvent.map((event) => ({ valid: true as const, event: event as unknown, text: JSON.stringify(event) })),
      hostileItem.map((text) => ({ valid: false as const, event: undefined as unknown, text })),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 20 }), async (items) => {
        const response = await post("/v1/events/batch", `{"events":[${items.map(({ text }) => text).join(",")}]}`);
        expect(response.statusCode, response.body).toBe(200);
        const reply = response.json() as {
          accepted: number;
          rejected: number;
          results: { index: number; id?: string; status: string; error?: { code: string; issues?: unknown[] } }[];
        };
        const valid = items.filter(({ valid }) => valid).length;
        expect(reply).toMatchObject({ accepted: valid, rejected: items.length - valid });
        items.forEach(({ valid, event }, index) => {
          const result = reply.results[index];
          expect(result?.index).toBe(index);
          if (valid) {
            expect(result?.status).toBe("accepted");
            expect(stored.find((candidate) => candidate.id === result?.id)).toEqual(event);
          } else {
            expect(result?.status).toBe("rejected");
            expect(result?.error?.code).toBe("INVALID_EVENT");
            expect(result?.error?.issues?.length).toBeGreaterThan(0);
          }
        });
      }),
      { numRuns: 30 },
    );
  });
});

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
