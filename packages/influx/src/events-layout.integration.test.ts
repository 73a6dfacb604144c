import type { SecurityEvent } from "@vigil/shared";
import { type Influxd, startInfluxd } from "@vigil/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEventRows, encodePoints, latestEventsStatement } from "./index.js";

describe("events layout against a real InfluxDB", () => {
  let influx: Influxd;
  beforeAll(async () => {
    influx = await startInfluxd("layout");
  });
  afterAll(async () => {
    await influx?.dispose();
  });

  it("stores hostile messages and reads them back unchanged", async () => {
    const hostile = [
      'quote " inside',
      "back\\slash and trailing backslash\\",
      "new\nline and\r\ncarriage return",
      "comma, equals= space  tab\t",
      "unicode: 日本語 🔥 \u0000nul \u2028",
      "a".repeat(1024),
      "' OR 1=1; DROP DATABASE layout; --",
    ];
    const timestamp = "2026-01-01T00:00:00.000Z";
    const events: SecurityEvent[] = hostile.map((eventMessage) => ({ criticality: 10, timestamp, eventMessage }));
    await influx.client("writer").write(encodePoints(events.map((event, i) => ({ event, sequence: i + 1 }))));
    const bound = latestEventsStatement(9, 100);
    if (bound === undefined) throw new Error("expected a statement");
    const read = decodeEventRows(await influx.client("reader").query(bound.statement, bound.params));
    expect(new Set(read.map((e) => e.eventMessage))).toEqual(new Set(hostile));
  });

  it("stores and returns two events of one millisecond and criticality a million sequences apart", async () => {
    const database = "layout_blocks";
    await influx.createDatabase(database);
    const timestamp = "2026-03-01T12:00:00.123Z";
    const first: SecurityEvent = { criticality: 7, timestamp, eventMessage: "original at 230" };
    const later: SecurityEvent = { criticality: 7, timestamp, eventMessage: "later at 1,000,230" };
    const writer = influx.client("writer", database);
    await writer.write(encodePoints([{ event: first, sequence: 230 }]));
    await writer.write(encodePoints([{ event: later, sequence: 1_000_230 }]));
    // Redelivered: the same messages again land on their own points, adding nothing.
    await writer.write(
      encodePoints([
        { event: later, sequence: 1_000_230 },
        { event: first, sequence: 230 },
      ]),
    );
    const bound = latestEventsStatement(6, 100);
    if (bound === undefined) throw new Error("expected a statement");
    const read = decodeEventRows(await influx.client("reader", database).query(bound.statement, bound.params));
    expect(read).toHaveLength(2);
    expect(new Set(read.map((e) => e.eventMessage))).toEqual(new Set([first.eventMessage, later.eventMessage]));
  });

  it("round-trips arbitrary generated messages", async () => {
    const database = "layout_fuzz";
    await influx.createDatabase(database);
    const messages = fc.sample(fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }), {
      numRuns: 300,
      seed: 7,
    });
    const events: SecurityEvent[] = messages.map((eventMessage, i) => ({
      criticality: i % 11,
      timestamp: new Date(Date.UTC(2026, 0, 1) + i).toISOString(),
      eventMessage,
    }));
    await influx.client("writer", database).write(encodePoints(events.map((event, i) => ({ event, sequence: i + 1 }))));
    const bound = latestEventsStatement(-1, 1000);
    if (bound === undefined) throw new Error("expected a statement");
    const read = decodeEventRows(await influx.client("reader", database).query(bound.statement, bound.params));
    expect(read).toEqual([...events].reverse());
  });
});
