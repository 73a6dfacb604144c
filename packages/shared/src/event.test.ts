import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeEvent, encodeEvent, type SecurityEvent } from "./index.js";

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const valid: SecurityEvent = {
  criticality: 7,
  timestamp: "2026-11-24T10:15:30.123Z",
  eventMessage: "Failed SSH login for root from 203.0.113.9",
  id: "0f8fad5b-d9cb-469f-a165-70867728950e",
  source: "sensor-1",
};

describe("decodeEvent", () => {
  it("accepts a full event and round-trips it through encodeEvent", () => {
    expect(decodeEvent(encodeEvent(valid))).toEqual({ ok: true, event: valid });
  });

  it("accepts an event with only the three required fields", () => {
    const minimal = { criticality: 0, timestamp: "2026-11-24T10:15:30+02:00", eventMessage: "x" };
    expect(decodeEvent(bytes(minimal))).toEqual({ ok: true, event: minimal });
  });

  it("drops unknown fields, including prototype-pollution keys", () => {
    const result = decodeEvent(
      bytes(
        `{"criticality":1,"timestamp":"2026-01-01T00:00:00Z","eventMessage":"m","__proto__":{"polluted":true},"extra":1}`,
      ),
    );
    expect(result.ok && Object.keys(result.event)).toEqual(["criticality", "timestamp", "eventMessage"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ["not JSON", "{criticality: 1", "NOT_JSON", /not UTF-8 JSON/],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), "NOT_JSON", /not UTF-8 JSON/],
    ["a JSON array", [], "INVALID_EVENT", /\(root\)/],
    ["criticality as a string", { ...valid, criticality: "7" }, "INVALID_EVENT", /criticality/],
    ["criticality 11", { ...valid, criticality: 11 }, "INVALID_EVENT", /criticality/],
    ["fractional criticality", { ...valid, criticality: 2.5 }, "INVALID_EVENT", /criticality/],
    ["timestamp without zone", { ...valid, timestamp: "2026-11-24T10:15:30" }, "INVALID_EVENT", /timestamp/],
    [
      "timestamp out of InfluxDB's range",
      { ...valid, timestamp: "2300-01-01T00:00:00Z" },
      "INVALID_EVENT",
      /timestamp/,
    ],
    ["empty message", { ...valid, eventMessage: "" }, "INVALID_EVENT", /eventMessage/],
    ["message of 1025 characters", { ...valid, eventMessage: "a".repeat(1025) }, "INVALID_EVENT", /eventMessage/],
    ["id that is not a UUID", { ...valid, id: "abc" }, "INVALID_EVENT", /id/],
    ["source with a space", { ...valid, source: "a b" }, "INVALID_EVENT", /source/],
    ["missing eventMessage", { criticality: 1, timestamp: valid.timestamp }, "INVALID_EVENT", /eventMessage/],
  ] as const)("rejects %s", (_label, input, code, reason) => {
    const payload = input instanceof Uint8Array ? input : bytes(input);
    const result = decodeEvent(payload);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.rejection.code).toBe(code);
      expect(result.rejection.reason).toMatch(reason);
    }
  });

  it("counts characters, not UTF-16 units: 1024 emoji are a valid message", () => {
    expect(decodeEvent(bytes({ ...valid, eventMessage: "🔥".repeat(1024) }), 1 << 20).ok).toBe(true);
  });

  it("rejects a payload over the byte limit before parsing it", () => {
    const result = decodeEvent(bytes({ ...valid, eventMessage: "a".repeat(1000) }), 100);
    expect(result).toMatchObject({ ok: false, rejection: { code: "TOO_LARGE" } });
  });

  it("never throws and never accepts an invalid event, whatever the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (payload) => {
        const result = decodeEvent(payload);
        if (result.ok) expect(result.event.eventMessage.length).toBeGreaterThan(0);
      }),
    );
  });

  it("never throws on arbitrary JSON values, and accepts exactly the schema-valid ones", () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            criticality: fc.oneof(fc.integer({ min: -3, max: 13 }), fc.double(), fc.string(), fc.constant(Number.NaN)),
            timestamp: fc.oneof(
              fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
              fc.string(),
            ),
            eventMessage: fc.oneof(fc.string({ maxLength: 1100 }), fc.integer()),
            __proto__: fc.object(),
          },
          { requiredKeys: [] },
        ),
        (value) => {
          const result = decodeEvent(bytes(value));
          if (result.ok) {
            expect(Number.isInteger(result.event.criticality)).toBe(true);
            expect(result.event.criticality).toBeGreaterThanOrEqual(0);
            expect(result.event.criticality).toBeLessThanOrEqual(10);
          }
        },
      ),
    );
  });
});
