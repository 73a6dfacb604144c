import { describe, expect, it } from "vitest";
import { percentile, summarise } from "./stats.js";

describe("bench statistics", () => {
  it("takes the median, min and max of runs", () => {
    expect(summarise([5, 1, 3])).toMatchObject({ median: 3, min: 1, max: 5 });
  });

  it("uses nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
  });
});
