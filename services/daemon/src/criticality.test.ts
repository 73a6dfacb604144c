import { describe, expect, it } from "vitest";
import { createCriticalitySampler, DEFAULT_CRITICALITY_WEIGHTS, parseCriticalityWeights } from "./criticality.js";

describe("parseCriticalityWeights", () => {
  it("reads eleven weights, with spaces and decimals", () => {
    expect(parseCriticalityWeights("1, 0, 2.5,0,0,0,0,0,0,0, 3")).toEqual({
      ok: true,
      weights: [1, 0, 2.5, 0, 0, 0, 0, 0, 0, 0, 3],
    });
  });

  it("accepts the default mix, which favours low criticality", () => {
    const parsed = parseCriticalityWeights(DEFAULT_CRITICALITY_WEIGHTS);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.weights[0]).toBeGreaterThan(parsed.weights[10] as number);
  });

  it.each([
    ["ten weights", "1,1,1,1,1,1,1,1,1,1", /expected 11 comma-separated weights, got 10/],
    ["twelve weights", "1,1,1,1,1,1,1,1,1,1,1,1", /got 12/],
    ["a negative weight", "1,-1,1,1,1,1,1,1,1,1,1", /criticality 1 must be a non-negative number/],
    ["a word", "1,1,1,lots,1,1,1,1,1,1,1", /criticality 3 .*"lots"/],
    ["an empty weight", "1,1,1,1,1,,1,1,1,1,1", /criticality 5/],
    ["all zero", "0,0,0,0,0,0,0,0,0,0,0", /at least one weight must be positive/],
  ])("refuses %s", (_label, text, reason) => {
    const parsed = parseCriticalityWeights(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});

describe("createCriticalitySampler", () => {
  it("maps the unit interval onto levels in proportion to their weights", () => {
    const sample = createCriticalitySampler([1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(sample(0)).toBe(0);
    expect(sample(0.2499)).toBe(0);
    expect(sample(0.25)).toBe(2);
    expect(sample(0.9999999)).toBe(2);
  });

  it("never draws a level of weight 0, even when the point rounds up to the total", () => {
    const sample = createCriticalitySampler([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    for (const uniform of [0, 0.5, 1 - Number.EPSILON, 1]) expect(sample(uniform)).toBe(7);
  });

  it("refuses weights that cannot describe a mix", () => {
    expect(() => createCriticalitySampler([1, 2])).toThrow(/expected 11 weights/);
    expect(() => createCriticalitySampler(new Array(11).fill(0))).toThrow(/positive/);
    expect(() => createCriticalitySampler([-1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])).toThrow(/weight 0/);
  });
});
