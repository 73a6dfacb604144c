import type { SecurityEvent } from "@vigil/shared";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SequencedEvent } from "./events-layout.js";
import {
  countByCriticalityStatement,
  decodeCountRows,
  decodeEventRows,
  EVENTS_MEASUREMENT,
  encodePoint,
  encodePoints,
  latestEventsStatement,
  pointTime,
} from "./index.js";

const event: SecurityEvent = {
  criticality: 9,
  timestamp: "2026-11-24T10:15:30.123456Z",
  eventMessage: 'He said "hi" \\ then, left = now',
  id: "0f8fad5b-d9cb-469f-a165-70867728950e",
  source: "sensor-1",
};

describe("pointTime", () => {
  it("is the millisecond instant in nanoseconds plus the sequence modulo one million", () => {
    expect(pointTime("2026-11-24T10:15:30.123Z", 42)).toBe(`${Date.parse("2026-11-24T10:15:30.123Z")}000042`);
    expect(pointTime("2026-11-24T10:15:30.123Z", 1_000_042)).toBe(pointTime("2026-11-24T10:15:30.123Z", 42));
  });

  it("gives distinct times to distinct sequences within one millisecond", () => {
    const times = new Set(Array.from({ length: 1000 }, (_, i) => pointTime(event.timestamp, i + 1)));
    expect(times.size).toBe(1000);
  });

  it("handles instants before 1970", () => {
    expect(pointTime("1969-12-31T23:59:59.999Z", 5)).toBe("-999995");
  });
});

describe("encodePoint", () => {
  it("escapes quotes and backslashes in string fields and tags criticality", () => {
    expect(encodePoint({ event, sequence: 7 })).toBe(
      `security_events,criticality=9 eventMessage="He said \\"hi\\" \\\\ then, left = now",timestamp="2026-11-24T10:15:30.123456Z",seq=7i,id="0f8fad5b-d9cb-469f-a165-70867728950e",source="sensor-1" ${pointTime(event.timestamp, 7)}`,
    );
  });

  it("puts the sequence's millions in the seq_block tag, so the key holds the whole sequence", () => {
    const bare = { criticality: 5, timestamp: "2026-11-24T10:15:30.123Z", eventMessage: "m" };
    const key = (sequence: number) => {
      const line = encodePoint({ event: bare, sequence });
      return `${line.slice(0, line.indexOf(" "))} ${line.slice(line.lastIndexOf(" ") + 1)}`;
    };
    expect(key(230)).toBe(`security_events,criticality=5 ${pointTime(bare.timestamp, 230)}`);
    expect(key(1_000_230)).toBe(`security_events,criticality=5,seq_block=1 ${pointTime(bare.timestamp, 230)}`);
    expect(key(230)).not.toBe(key(1_000_230));
    // A redelivered message (same sequence) keeps its key.
    expect(key(1_000_230)).toBe(key(1_000_230));
  });

  it("never gives two sequences the same key in one millisecond and criticality", () => {
    const bare = { criticality: 5, timestamp: "2026-11-24T10:15:30.123Z", eventMessage: "m" };
    const key = (sequence: number) => {
      const line = encodePoint({ event: bare, sequence });
      return `${line.slice(0, line.indexOf(" "))} ${line.slice(line.lastIndexOf(" ") + 1)}`;
    };
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
        fc.pre(a !== b);
        expect(key(a)).not.toBe(key(b));
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.integer({ min: 1, max: 9_000 }), (a, k) => {
        expect(key(a)).not.toBe(key(a + k * 1_000_000));
      }),
    );
  });

  it("leaves out id and source when the event has none", () => {
    const line = encodePoint({ event: { criticality: 0, timestamp: event.timestamp, eventMessage: "m" }, sequence: 1 });
    expect(line).not.toMatch(/id=|source=/);
  });
});

describe("latestEventsStatement", () => {
  it("binds every value and the limit", () => {
    const bound = latestEventsStatement(7, 10);
    expect(bound?.statement).toBe(
      'SELECT "criticality", "eventMessage", "timestamp", "id", "source" FROM "security_events" WHERE "criticality" = $c8 OR "criticality" = $c9 OR "criticality" = $c10 ORDER BY time DESC LIMIT $limit',
    );
    expect(bound?.params).toEqual({ limit: 10, c8: "8", c9: "9", c10: "10" });
  });

  it("drops the filter when every criticality qualifies", () => {
    expect(latestEventsStatement(-1, 5)?.statement).not.toContain("WHERE");
    expect(latestEventsStatement(-100, 5)?.params).toEqual({ limit: 5 });
  });

  it("reads only points after `since` when given, as a bound parameter", () => {
    const since = new Date("2026-11-24T09:00:00.000Z");
    const bound = latestEventsStatement(8, 10, since);
    expect(bound?.statement).toBe(
      'SELECT "criticality", "eventMessage", "timestamp", "id", "source" FROM "security_events" WHERE ("criticality" = $c9 OR "criticality" = $c10) AND time > $since ORDER BY time DESC LIMIT $limit',
    );
    expect(bound?.params).toEqual({ limit: 10, c9: "9", c10: "10", since: "2026-11-24T09:00:00.000Z" });
    expect(latestEventsStatement(-1, 5, since)).toEqual({
      statement:
        'SELECT "criticality", "eventMessage", "timestamp", "id", "source" FROM "security_events" WHERE time > $since ORDER BY time DESC LIMIT $limit',
      params: { limit: 5, since: "2026-11-24T09:00:00.000Z" },
    });
    expect(latestEventsStatement(10, 5, since)).toBeUndefined();
  });

  it("has no statement when nothing can match", () => {
    expect(latestEventsStatement(10, 5)).toBeUndefined();
    expect(latestEventsStatement(1_000_000, 5)).toBeUndefined();
  });
});

describe("decodeEventRows", () => {
  it("rebuilds events and skips rows that are not events", () => {
    const skipped: string[] = [];
    const events = decodeEventRows(
      [
        {
          name: "security_events",
          columns: ["time", "criticality", "eventMessage", "timestamp", "id", "source"],
          values: [
            ["2026-11-24T10:15:30.123Z", "9", "m", event.timestamp, null, "s"],
            ["2026-11-24T10:15:30.122Z", "3", null, event.timestamp, null, null],
          ],
        },
      ],
      (_row, reason) => skipped.push(reason),
    );
    expect(events).toEqual([{ criticality: 9, eventMessage: "m", timestamp: event.timestamp, source: "s" }]);
    expect(skipped).toEqual([expect.stringMatching(/eventMessage/)]);
  });
});

// The encoder as it was before it was tuned for speed: what the tuned one must still produce.
const reference = {
  pointTime(timestamp: string, sequence: number): string {
    const ms = Date.parse(timestamp);
    const offset = sequence % 1_000_000;
    if (ms >= 0) return `${ms}${String(offset).padStart(6, "0")}`;
    return (BigInt(ms) * BigInt(1_000_000) + BigInt(offset)).toString();
  },
  escape: (value: string): string => (/["\\]/.test(value) ? value.replace(/["\\]/g, (char) => `\\${char}`) : value),
  encodePoint({ event, sequence }: SequencedEvent): string {
    let fields = `eventMessage="${reference.escape(event.eventMessage)}",timestamp="${reference.escape(event.timestamp)}",seq=${sequence}i`;
    if (event.id !== undefined) fields += `,id="${reference.escape(event.id)}"`;
    if (event.source !== undefined) fields += `,source="${reference.escape(event.source)}"`;
    const block = Math.floor(sequence / 1_000_000);
    const tags = `criticality=${event.criticality}${block === 0 ? "" : `,seq_block=${block}`}`;
    return `security_events,${tags} ${fields} ${reference.pointTime(event.timestamp, sequence)}`;
  },
  encodePoints: (events: readonly SequencedEvent[]): string => events.map(reference.encodePoint).join("\n"),
};

const pad = (value: number, width: number) => String(value).padStart(width, "0");

// Instants across InfluxDB's whole range, written with any fraction length and any offset.
const timestampArb = fc.oneof(
  fc
    .tuple(
      fc.date({ min: new Date("1677-09-22T00:00:00Z"), max: new Date("2262-04-10T00:00:00Z"), noInvalidDate: true }),
      fc.stringMatching(/^(\.\d{1,12})?$/),
      fc.oneof(
        fc.constant("Z"),
        fc
          .tuple(fc.constantFrom("+", "-"), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
          .map(([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`),
      ),
    )
    .map(([date, fraction, zone]) => `${date.toISOString().slice(0, 19)}${fraction}${zone}`),
  fc
    .date({ min: new Date("1969-12-31T00:00:00Z"), max: new Date("1970-01-02T00:00:00Z"), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.constantFrom("2026-11-24", "2026-11-24T10:15:30.1234567890Z", "2026-02-30T00:00:00Z", "1969-12-31T23:59:59.9999Z"),
);

const textArb = fc.oneof(
  fc.string({ maxLength: 80 }),
  // Characters that need escaping, that take several bytes, or that UTF-8 cannot carry (lone surrogates).
  fc.string({
    unit: fc.constantFrom("a", '"', "\\", "\n", " ", ",", "=", "\u00e9", "\u{1F525}", "\uFFFD", "\uD800", "\uDC00"),
    maxLength: 40,
  }),
);

const sequencedArb: fc.Arbitrary<SequencedEvent> = fc.record({
  event: fc.record(
    {
      criticality: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constantFrom(-0, -1, 11, 2.5)),
      timestamp: timestampArb,
      eventMessage: textArb,
      id: fc.oneof(fc.uuid(), textArb),
      source: textArb,
    },
    { requiredKeys: ["criticality", "timestamp", "eventMessage"] },
  ),
  sequence: fc.oneof(fc.integer({ min: 1, max: 2_000_000 }), fc.maxSafeNat()),
});

describe("the encoder, against the implementation it replaced", () => {
  it("gives every event the same point time", () => {
    fc.assert(
      fc.property(timestampArb, fc.maxSafeNat(), (timestamp, sequence) => {
        expect(pointTime(timestamp, sequence)).toBe(reference.pointTime(timestamp, sequence));
      }),
      { numRuns: 2_000 },
    );
  });

  it("encodes a body of many megabytes to the same text, and the next one too", () => {
    const large = (char: string) =>
      Array.from({ length: 3_000 }, (_, i) => ({
        event: { ...event, eventMessage: char.repeat(1_000), criticality: i % 11 },
        sequence: i + 1,
      }));
    for (const char of ["a", "\u00e9", "a"]) {
      const events = large(char);
      expect(encodePoints(events)).toBe(reference.encodePoints(events));
    }
  });

  it("encodes every batch to the same body", () => {
    fc.assert(
      fc.property(fc.array(sequencedArb, { maxLength: 5 }), (events) => {
        expect(encodePoints(events)).toBe(reference.encodePoints(events));
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("countByCriticalityStatement and decodeCountRows", () => {
  it("binds the window's instants and keeps them out of the statement text", () => {
    const bound = countByCriticalityStatement(new Date(0), new Date(60_000));
    expect(bound.params).toEqual({ from: "1970-01-01T00:00:00.000Z", to: "1970-01-01T00:01:00.000Z" });
    expect(bound.statement).not.toContain("1970");
  });

  it("counts per level, every level present, ignoring levels outside the range", () => {
    const counts = decodeCountRows([
      { name: EVENTS_MEASUREMENT, tags: { criticality: "3" }, columns: ["time", "count"], values: [[0, 4]] },
      { name: EVENTS_MEASUREMENT, tags: { criticality: "10" }, columns: ["time", "count"], values: [[0, 1]] },
      { name: EVENTS_MEASUREMENT, tags: { criticality: "42" }, columns: ["time", "count"], values: [[0, 9]] },
    ]);
    expect(Object.keys(counts)).toHaveLength(11);
    expect(counts).toMatchObject({ "0": 0, "3": 4, "10": 1 });
    expect(counts["42"]).toBeUndefined();
  });
});
