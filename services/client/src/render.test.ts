import type { SecurityEvent } from "@vigil/shared";
import { describe, expect, it } from "vitest";
import { MAX_MESSAGE_WIDTH, renderHeading, renderTable } from "./render.js";

const event = (overrides: Partial<SecurityEvent> = {}): SecurityEvent => ({
  criticality: 7,
  timestamp: "2024-05-01T10:00:00Z",
  eventMessage: "login failed",
  ...overrides,
});

// Matches ANSI escape sequences, to tell whether any colour code was printed.
const ESCAPE = new RegExp(String.fromCharCode(27));

describe("renderTable", () => {
  it("prints a heading row and one aligned row per event, in the given order", () => {
    const text = renderTable([
      event({ criticality: 9, timestamp: "2024-05-01T10:00:02.123+02:00", source: "sensor-1", eventMessage: "b" }),
      event({ criticality: 10, eventMessage: "a" }),
    ]);
    expect(text.split("\n")).toEqual([
      "TIME                           CRITICALITY  SOURCE    MESSAGE",
      "2024-05-01T10:00:02.123+02:00  9            sensor-1  b",
      "2024-05-01T10:00:00Z           10           -         a",
    ]);
  });

  it("says so in one line when there are no events", () => {
    expect(renderTable([])).toBe("no events match");
  });

  it("shows newlines as ⏎ and keeps every event on one line", () => {
    const text = renderTable([event({ eventMessage: "first\nsecond\r\nthird\rfourth\tend" })]);
    const lines = text.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/first⏎second⏎third⏎fourth end$/);
  });

  it("cuts messages at 100 characters when there is no terminal", () => {
    const long = "x".repeat(250);
    const row = renderTable([event({ eventMessage: long })]).split("\n")[1] ?? "";
    const message = row.slice(row.lastIndexOf("  ") + 2);
    expect(Array.from(message)).toHaveLength(MAX_MESSAGE_WIDTH);
    expect(message.endsWith("…")).toBe(true);
    expect(renderTable([event({ eventMessage: "y".repeat(100) })])).toContain("y".repeat(100));
  });

  it("cuts messages so that each row fits the terminal width", () => {
    const lines = renderTable([event({ eventMessage: "z".repeat(500) })], { width: 80 }).split("\n");
    for (const line of lines) expect(Array.from(line).length).toBeLessThanOrEqual(80);
    expect(lines[1]?.endsWith("…")).toBe(true);
  });

  it("never cuts inside a character made of two UTF-16 units", () => {
    const text = renderTable([event({ eventMessage: "🔥".repeat(150) })]);
    const row = text.split("\n")[1] ?? "";
    expect(row).toContain(`${"🔥".repeat(99)}…`);
    expect(row).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it("neutralises terminal escape sequences and direction overrides in messages", () => {
    const hostile = `ok${String.fromCharCode(27)}[2J\u202egnp.exe${String.fromCharCode(7)}`;
    const text = renderTable([event({ eventMessage: hostile })]);
    expect(text).not.toMatch(ESCAPE);
    expect(text).not.toContain("\u202e");
    expect(text).toContain("ok\ufffd[2J\ufffdgnp.exe\ufffd");
  });

  it("prints colour codes only when asked", () => {
    const events = [event({ criticality: 9 })];
    expect(renderTable(events)).not.toMatch(ESCAPE);
    expect(renderTable(events, { color: true })).toMatch(ESCAPE);
  });
});

describe("renderHeading", () => {
  it("says what was asked and when", () => {
    expect(renderHeading({ limit: 10, minCriticality: 5 }, new Date("2024-05-01T10:00:00Z"))).toBe(
      "last 10 events with criticality > 5, newest first, at 2024-05-01T10:00:00.000Z",
    );
  });
});
