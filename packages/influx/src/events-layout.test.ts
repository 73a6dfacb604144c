import type { SecurityEvent } from "@vigil/shared";
import { describe, expect, it } from "vitest";
import { decodeEventRows, encodePoint, latestEventsStatement, pointTime } from "./index.js";

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
