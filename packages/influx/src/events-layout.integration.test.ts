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
