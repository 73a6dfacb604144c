import { describe, expect, it } from "vitest";
import { mergeSamples, slowDuring } from "./storage-writes.js";

describe("TSM writes seen by sampling", () => {
  it("merges samples close together into one write and keeps writes apart", () => {
    expect(mergeSamples([100, 110, 120, 200, 210, 500], 30)).toEqual([
      { from: 100, to: 120 },
      { from: 200, to: 210 },
      { from: 500, to: 500 },
    ]);
    expect(mergeSamples([], 30)).toEqual([]);
  });

  it("counts the slow probes whose wait overlapped a write, and only those", () => {
    const writes = [{ from: 1_000, to: 1_500 }];
    const probes = [
      { sent: 900, ms: 300 }, // slow, waiting when the write began
      { sent: 1_200, ms: 260 }, // slow, sent during it
      { sent: 1_600, ms: 400 }, // slow, after it
      { sent: 1_100, ms: 40 }, // during it, but not slow
    ];
    expect(slowDuring(probes, writes, 250)).toEqual({ slow: 3, during: 2 });
    expect(slowDuring(probes, [], 250)).toEqual({ slow: 3, during: 0 });
  });
});
