import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkSecurityEvent,
  decodeEvent,
  describeIssues,
  encodeEvent,
  SecurityEvent,
  timestampMillis,
} from "./index.js";

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
    ["a lone surrogate in the message", { ...valid, eventMessage: "x\ud800y" }, "INVALID_EVENT", /lone surrogate/],
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

  it("says which id an invalid event claims, as sent, and none for what claims none", () => {
    const claimed = (input: unknown) => {
      const result = decodeEvent(bytes(input));
      return result.ok ? "accepted" : result.rejection.claimedId;
    };
    expect(claimed({ ...valid, criticality: 11 })).toBe(valid.id);
    expect(claimed({ ...valid, id: "not\na uuid" })).toBe("not\na uuid");
    expect(claimed({ ...valid, id: 5 })).toBeUndefined();
    expect(claimed([valid])).toBeUndefined();
    expect(claimed("{not json")).toBeUndefined();
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

// decodeEvent as it was before the hand-written check: everything through the schema.
const decodeWithSchemaOnly = (payload: Uint8Array) => {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (err) {
    return {
      ok: false,
      rejection: { code: "NOT_JSON", reason: `payload is not UTF-8 JSON: ${(err as Error).message}` },
    };
  }
  const parsed = SecurityEvent.safeParse(json);
  if (parsed.success) return { ok: true, event: parsed.data };
  const reason = describeIssues(parsed.error);
  const id = typeof json === "object" && json !== null && "id" in json ? json.id : undefined;
  return {
    ok: false,
    rejection:
      typeof id === "string" ? { code: "INVALID_EVENT", reason, claimedId: id } : { code: "INVALID_EVENT", reason },
  };
};

/** The check and the schema agree on `value`: both refuse it, or both accept it as the same event. Returns whether they accepted it. */
const expectSameVerdict = (value: unknown): boolean => {
  const checked = checkSecurityEvent(value);
  const parsed = SecurityEvent.safeParse(value);
  if ((checked !== undefined) !== parsed.success) {
    expect.fail(`check ${checked === undefined ? "refused" : "accepted"} ${JSON.stringify(value)}; the schema did not`);
  }
  if (checked !== undefined && parsed.success) {
    expect(checked).toStrictEqual(parsed.data);
    expect(Object.keys(checked)).toEqual(Object.keys(parsed.data));
    expect(Object.is(checked.criticality, parsed.data.criticality)).toBe(true);
  }
  return parsed.success;
};

const pad = (value: number, width: number) => String(value).padStart(width, "0");

/** Mostly `valid`, sometimes one of `others`: near misses stay common without drowning the valid case. */
const mostly = <T>(valid: fc.Arbitrary<T>, ...others: fc.Arbitrary<T>[]): fc.Arbitrary<T> =>
  fc.oneof({ weight: 4 * others.length, arbitrary: valid }, ...others);

const zoneOf = (hours: fc.Arbitrary<number>, minutes: fc.Arbitrary<number>) =>
  fc.tuple(fc.constantFrom("+", "-"), hours, minutes).map(([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`);

/** A timestamp assembled from its parts, so that every part can be pushed just past its limit. */
const timestampOf = (parts: {
  readonly year: fc.Arbitrary<number>;
  readonly month: fc.Arbitrary<number>;
  readonly day: fc.Arbitrary<number>;
  readonly time: fc.Arbitrary<readonly [number, number, number]>;
  readonly fraction: fc.Arbitrary<string>;
  readonly zone: fc.Arbitrary<string>;
}) =>
  fc
    .tuple(parts.year, parts.month, parts.day, parts.time, parts.fraction, parts.zone)
    .map(
      ([year, month, day, [h, m, sec], fraction, zone]) =>
        `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(h, 2)}:${pad(m, 2)}:${pad(sec, 2)}${fraction}${zone}`,
    );

const validTime = fc.tuple(
  fc.integer({ min: 0, max: 23 }),
  fc.integer({ min: 0, max: 59 }),
  fc.integer({ min: 0, max: 59 }),
);
const validTimestampArb = timestampOf({
  year: fc.oneof(fc.integer({ min: 1970, max: 2100 }), fc.integer({ min: 1678, max: 2261 })),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 28 }),
  time: validTime,
  fraction: fc.oneof(fc.constant(""), fc.stringMatching(/^\.\d{1,12}$/)),
  zone: fc.oneof(fc.constant("Z"), zoneOf(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))),
});
// Every part valid or just out of range; years around InfluxDB's limits and leap-year rules.
const nearTimestampArb = timestampOf({
  year: mostly(
    fc.integer({ min: 1678, max: 2261 }),
    fc.integer({ min: 0, max: 9999 }),
    fc.constantFrom(0, 4, 1600, 1676, 1677, 1678, 1700, 1800, 1900, 2000, 2100, 2200, 2261, 2262, 2263, 2400, 9999),
  ),
  month: mostly(fc.integer({ min: 1, max: 12 }), fc.constantFrom(0, 13, 99)),
  day: mostly(fc.integer({ min: 1, max: 28 }), fc.integer({ min: 0, max: 32 })),
  time: mostly(
    validTime,
    fc.tuple(fc.constantFrom(24, 99), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 })),
    fc.tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(60, 99), fc.integer({ min: 0, max: 59 })),
    fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.constantFrom(60, 99)),
  ),
  fraction: fc.oneof(fc.constant(""), fc.stringMatching(/^\.\d{0,12}$/)),
  zone: mostly(
    fc.oneof(fc.constant("Z"), zoneOf(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))),
    zoneOf(fc.constantFrom(24, 25, 99), fc.integer({ min: 0, max: 61 })),
    zoneOf(fc.integer({ min: 0, max: 23 }), fc.constantFrom(60, 61, 99)),
    fc.constantFrom("", "z", "+0200", "+02", "+02:00:00", " Z", "Z ", "+2:00", "\u221202:00"),
  ),
});

// One character replaced or inserted: separators, lookalike digits, letter case.
const mutate = (text: fc.Arbitrary<string>) =>
  fc
    .tuple(
      text,
      fc.nat(),
      fc.constantFrom("", "0", "7", "9", "a", "A", "c", "F", "g", "t", " ", "-", ":", ".", "\u0661", "\uff10"),
    )
    .chain(([value, at, char]) =>
      fc.constantFrom(
        value.slice(0, at % (value.length + 1)) + char + value.slice((at % (value.length + 1)) + 1),
        value.slice(0, at % (value.length + 1)) + char + value.slice(at % (value.length + 1)),
      ),
    );

const timestampArb: fc.Arbitrary<unknown> = mostly<unknown>(
  validTimestampArb,
  nearTimestampArb,
  mutate(validTimestampArb),
  fc.string(),
  fc.integer(),
);

const messageArb: fc.Arbitrary<unknown> = mostly<unknown>(
  fc.oneof(fc.string({ minLength: 1, maxLength: 200 }), fc.string({ unit: "binary", minLength: 1, maxLength: 200 })),
  fc.constant(""),
  fc.string({ unit: "grapheme", minLength: 1000, maxLength: 1100 }),
  // Around the limit in code points and in UTF-16 units, with pairs and lone surrogates.
  fc
    .tuple(
      fc.integer({ min: 0, max: 1030 }),
      fc.integer({ min: 0, max: 1030 }),
      fc.constantFrom("a", "\u{1F525}", "\uD800", "\uDC00", "\uDC00\uD800"),
    )
    .map(([plain, special, unit]) => "a".repeat(plain) + unit.repeat(special)),
  fc.integer(),
  fc.constant(null),
);

const uuidArb: fc.Arbitrary<unknown> = mostly<unknown>(
  fc.uuid(),
  fc.mixedCase(fc.uuid()),
  fc.uuid({ version: [9, 10, 15] }),
  fc.constantFrom(
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "0f8fad5b-d9cb-069f-a165-70867728950e",
    "0f8fad5b-d9cb-469f-7165-70867728950e",
    "0f8fad5bd9cb469fa16570867728950e",
  ),
  mutate(fc.uuid()),
  fc.integer(),
);

const sourceName = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const sourceArb: fc.Arbitrary<unknown> = mostly<unknown>(
  sourceName,
  fc.constantFrom("", "a".repeat(64), "a".repeat(65), "a b", "sensor/1", "\u212A", "\u00e4", "[", "`", "@", "{", "~"),
  mutate(sourceName),
  fc.boolean(),
);

const criticalityArb: fc.Arbitrary<unknown> = mostly<unknown>(
  fc.integer({ min: 0, max: 10 }),
  fc.constantFrom(-1, 11, -0, 2.5, 1e-9, Number.MAX_SAFE_INTEGER, "7", null, true),
  fc.double(),
);

/** A field: absent now and then, otherwise present with a (mostly valid) value. */
const field = (name: string, value: fc.Arbitrary<unknown>, absentOneIn: number) =>
  fc.oneof(
    { weight: absentOneIn - 1, arbitrary: value.map((v): [string, unknown][] => [[name, v]]) },
    fc.constant<[string, unknown][]>([]),
  );

/** JSON text of an object made of `entries`, in order; keys may repeat or be `__proto__`. */
const objectJson = (entries: readonly (readonly [string, unknown])[]) =>
  `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(",")}}`;

/** Events in JSON, valid about half the time; otherwise one or two things wrong, in any field order. */
const nearValidEventJson = fc
  .tuple(
    field("criticality", criticalityArb, 50),
    field("timestamp", timestampArb, 50),
    field("eventMessage", messageArb, 50),
    field("id", uuidArb, 3),
    field("source", sourceArb, 3),
    // Unknown keys, prototype keys, and now and then a second value for a known key.
    fc.array(
      fc.tuple(
        mostly(
          fc.constantFrom("__proto__", "extra", "constructor", "toString", "hasOwnProperty"),
          fc.constantFrom("criticality", "timestamp", "id"),
        ),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      { maxLength: 2 },
    ),
  )
  .chain((groups) => {
    const entries = groups.flat();
    return fc.shuffledSubarray(entries, { minLength: entries.length });
  })
  .map(objectJson);

// Thousands of schema parses each: a busy shared machine may need more than the default 5 s.
describe("checkSecurityEvent", { timeout: 30_000 }, () => {
  it("accepts the common event without the schema", () => {
    expect(checkSecurityEvent({ ...valid, extra: 1 })).toStrictEqual(valid);
  });

  it("agrees with the schema on valid and near-valid events", () => {
    let accepted = 0;
    const numRuns = 1_500;
    fc.assert(
      fc.property(nearValidEventJson, (json) => {
        if (expectSameVerdict(JSON.parse(json))) accepted++;
      }),
      { numRuns },
    );
    // Both verdicts must be well represented for the agreement to mean anything.
    expect(accepted).toBeGreaterThan(numRuns / 10);
    expect(accepted).toBeLessThan(numRuns * 0.9);
  });

  it("agrees with the schema on timestamps, whatever their parts", () => {
    fc.assert(
      fc.property(fc.oneof(validTimestampArb, nearTimestampArb, mutate(nearTimestampArb), fc.string()), (timestamp) => {
        expectSameVerdict({ ...valid, timestamp });
      }),
      { numRuns: 1_500 },
    );
  });

  it("agrees with the schema on every day of every month, leap years included", () => {
    const years = [
      "0000",
      "0004",
      "1600",
      "1677",
      "1700",
      "1800",
      "1900",
      "2000",
      "2023",
      "2024",
      "2100",
      "2200",
      "2262",
    ];
    for (const year of years) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          expectSameVerdict({ ...valid, timestamp: `${year}-${pad(month, 2)}-${pad(day, 2)}T23:59:59.999-23:59` });
          expectSameVerdict({ ...valid, timestamp: `${year}-${pad(month, 2)}-${pad(day, 2)}T00:00:00+23:59` });
        }
      }
    }
  });

  it("agrees with the schema on every value of each part of the time and the zone", () => {
    for (let value = 0; value <= 99; value++) {
      const two = pad(value, 2);
      for (const timestamp of [
        `2026-01-01T${two}:00:00Z`,
        `2026-01-01T00:${two}:00Z`,
        `2026-01-01T00:00:${two}Z`,
        `2026-01-01T00:00:00+${two}:00`,
        `2026-01-01T00:00:00-00:${two}`,
        `2026-01-01T00:00:00.${two}Z`,
      ]) {
        expectSameVerdict({ ...valid, timestamp });
      }
    }
  });

  it("agrees with the schema on every ASCII character at every position of an id", () => {
    const id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    for (let at = 0; at < id.length; at++) {
      for (let code = 0; code < 128; code++) {
        expectSameVerdict({ ...valid, id: id.slice(0, at) + String.fromCharCode(code) + id.slice(at + 1) });
      }
    }
    for (const special of ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"]) {
      expectSameVerdict({ ...valid, id: special });
      expectSameVerdict({ ...valid, id: special.toUpperCase() });
      expectSameVerdict({ ...valid, id: `${special.slice(0, -1)}1` });
    }
  });

  it("agrees with the schema on every ASCII character in a source", () => {
    for (let code = 0; code < 128; code++) {
      const char = String.fromCharCode(code);
      expectSameVerdict({ ...valid, source: char });
      expectSameVerdict({ ...valid, source: `${"a".repeat(63)}${char}` });
    }
  });

  it.each([
    ["1024 characters", "a".repeat(1024), true],
    ["1025 characters", "a".repeat(1025), false],
    ["1024 emoji (2048 UTF-16 units)", "\u{1F525}".repeat(1024), true],
    ["1023 emoji and a letter", `${"\u{1F525}".repeat(1023)}a`, true],
    ["1024 emoji and a letter", `${"\u{1F525}".repeat(1024)}a`, false],
    ["1025 emoji", "\u{1F525}".repeat(1025), false],
    ["1024 lone surrogates", "\uD800".repeat(1024), false],
    ["one lone surrogate inside text", "x\uD800y", false],
    ["a low surrogate before a high one", "\uDC00\uD800", false],
    ["a well-formed pair", "x\uD83D\uDD25y", true],
    ["1025 lone surrogates", "\uDC00".repeat(1025), false],
  ])("agrees with the schema on a message of %s", (_label, eventMessage, accepted) => {
    expect(checkSecurityEvent({ ...valid, eventMessage }) !== undefined).toBe(accepted);
    expectSameVerdict({ ...valid, eventMessage });
  });

  it("agrees with the schema on values that are not objects", () => {
    for (const value of [null, undefined, 1, "x", true, [], [valid], new Date(), Object.create(null)]) {
      expectSameVerdict(value);
    }
  });
});

describe("decodeEvent with the hand-written check", { timeout: 30_000 }, () => {
  it("decodes exactly as the schema alone would, reasons included", () => {
    fc.assert(
      fc.property(fc.oneof(nearValidEventJson, fc.json()), (json) => {
        const payload = bytes(json);
        expect(decodeEvent(payload)).toStrictEqual(decodeWithSchemaOnly(payload));
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("timestampMillis", { timeout: 30_000 }, () => {
  it("reads every timestamp exactly as Date.parse does", () => {
    const anyInstant = fc
      .tuple(
        fc.date({ min: new Date("0000-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }),
        zoneOf(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 })),
        fc.stringMatching(/^\.\d{1,9}$/),
      )
      .map(([date, zone, fraction]) => `${date.toISOString().slice(0, 19)}${fraction}${zone}`);
    fc.assert(
      fc.property(
        fc.oneof(
          validTimestampArb,
          nearTimestampArb,
          mutate(validTimestampArb),
          anyInstant,
          fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
          fc.string(),
        ),
        (timestamp) => {
          expect(Object.is(timestampMillis(timestamp), Date.parse(timestamp)), timestamp).toBe(true);
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it.each([
    ["fractions truncated, not rounded", "1969-12-31T23:59:59.9999Z", -1],
    ["an offset east of UTC", "2026-01-01T05:30:00.5+05:30", Date.UTC(2026, 0, 1, 0, 0, 0, 500)],
    ["the first day of year 0", "0000-01-01T00:00:00Z", -62_167_219_200_000],
    ["a leap day", "2000-02-29T12:00:00-12:00", Date.UTC(2000, 2, 1)],
    // V8 loses the leading zero of a fraction longer than nine digits; the point keys depend on it.
    ["a fraction of ten digits as V8 does", "1970-01-01T00:00:00.0123456789Z", 123],
  ])("reads %s", (_label, timestamp, millis) => {
    expect(timestampMillis(timestamp)).toBe(millis);
  });
});
