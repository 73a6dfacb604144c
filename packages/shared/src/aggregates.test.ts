import { describe, expect, it } from "vitest";
import { decodeAggregatesQuery, decodeAggregatesReply } from "./aggregates.js";
import { encodeJson } from "./query.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("events.aggregates contract", () => {
  it("takes 1 to 1440 whole minutes and refuses the rest with BAD_REQUEST", () => {
    expect(decodeAggregatesQuery(bytes('{"minutes":60}'))).toEqual({ ok: true, request: { minutes: 60 } });
    for (const text of ["", "{", '{"minutes":0}', '{"minutes":1441}', '{"minutes":2.5}', '{"minutes":"5"}', "{}"]) {
      const decoded = decodeAggregatesQuery(bytes(text));
      expect(decoded.ok, text).toBe(false);
      if (!decoded.ok) expect(decoded.error.error.code, text).toBe("BAD_REQUEST");
    }
    const empty = decodeAggregatesQuery(bytes(""));
    if (!empty.ok) expect(empty.error.error.message).toMatch(/minutes/);
  });

  it("decodes a reply or an error reply, and throws on anything else", () => {
    const byCriticality = Object.fromEntries(Array.from({ length: 11 }, (_, level) => [String(level), level]));
    const reply = {
      from: "2026-01-01T00:00:00.000Z",
      to: "2026-01-01T01:00:00.000Z",
      total: 55,
      byCriticality,
      perSecond: 55 / 3600,
    };
    expect(decodeAggregatesReply(encodeJson(reply))).toEqual(reply);
    const error = { error: { code: "STORAGE_UNAVAILABLE" as const, message: "later" } };
    expect(decodeAggregatesReply(encodeJson(error))).toEqual(error);
    const { "10": _, ...missing } = byCriticality;
    expect(() => decodeAggregatesReply(encodeJson({ ...reply, byCriticality: missing }))).toThrow(/unknown shape/);
  });
});
