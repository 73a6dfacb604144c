import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeQuery, decodeQueryReply, encodeJson, errorReply, ProtocolError } from "./index.js";

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

describe("decodeQuery", () => {
  it("defaults limit to 10", () => {
    expect(decodeQuery(bytes({ minCriticality: 5 }))).toEqual({ ok: true, query: { limit: 10, minCriticality: 5 } });
  });

  it.each([
    ["empty payload", "", "BAD_REQUEST", /minCriticality/],
    ["not JSON", "limit=5", "BAD_REQUEST", /not JSON/],
    ["injection in minCriticality", { minCriticality: "5 OR 1=1" }, "BAD_REQUEST", /minCriticality/],
    ["minCriticality as a numeric string", { minCriticality: "5" }, "BAD_REQUEST", /minCriticality/],
    ["limit 0", { minCriticality: 1, limit: 0 }, "BAD_REQUEST", /limit/],
    ["limit 1001", { minCriticality: 1, limit: 1001 }, "BAD_REQUEST", /limit/],
    ["negative limit", { minCriticality: 1, limit: -5 }, "BAD_REQUEST", /limit/],
    ["huge limit", { minCriticality: 1, limit: 1e300 }, "BAD_REQUEST", /limit/],
    ["fractional minCriticality", { minCriticality: 1.5 }, "BAD_REQUEST", /minCriticality/],
    ["null", null, "BAD_REQUEST", /\(root\)/],
  ] as const)("rejects %s with a reason naming the field", (_label, input, code, reason) => {
    const result = decodeQuery(bytes(input));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.error.code).toBe(code);
      expect(result.error.error.message).toMatch(reason);
    }
  });

  it("rejects an oversized request before parsing it", () => {
    const result = decodeQuery(bytes({ minCriticality: 1, pad: "x".repeat(5000) }));
    expect(result).toMatchObject({ ok: false, error: { error: { code: "PAYLOAD_TOO_LARGE" } } });
  });

  it("never throws, and what it accepts is always within bounds", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue().map((v) => bytes(v)),
          fc.uint8Array({ maxLength: 256 }),
        ),
        (payload) => {
          const result = decodeQuery(payload);
          if (result.ok) {
            expect(Number.isInteger(result.query.limit)).toBe(true);
            expect(result.query.limit).toBeGreaterThanOrEqual(1);
            expect(result.query.limit).toBeLessThanOrEqual(1000);
            expect(Number.isSafeInteger(result.query.minCriticality)).toBe(true);
          }
        },
      ),
    );
  });
});

describe("decodeQueryReply", () => {
  it("reads both reply shapes", () => {
    expect(decodeQueryReply(encodeJson({ events: [] }))).toEqual({ events: [] });
    const failure = errorReply("STORAGE_UNAVAILABLE", "InfluxDB is down");
    expect(decodeQueryReply(encodeJson(failure))).toEqual(failure);
  });

  it("throws a ProtocolError on anything else", () => {
    expect(() => decodeQueryReply(bytes("nope"))).toThrow(ProtocolError);
    expect(() => decodeQueryReply(bytes({ rows: [] }))).toThrow(/unknown shape/);
  });
});
