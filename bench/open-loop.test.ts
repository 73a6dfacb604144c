import { describe, expect, it } from "vitest";
import { arrivalSchedule, latencyFigures } from "./open-loop.js";

describe("the open-loop arrival schedule", () => {
  it("spaces requests evenly at the rate, from the start", () => {
    const schedule = arrivalSchedule(1_000, 2);
    expect(schedule.total).toBe(2_000);
    expect(schedule.dueAt(0)).toBe(0);
    expect(schedule.dueAt(1)).toBe(1);
    expect(schedule.dueAt(1_500)).toBe(1_500);
  });

  it("counts the requests due by a moment, the first one at once", () => {
    const schedule = arrivalSchedule(200, 1);
    expect(schedule.dueBy(-1)).toBe(0);
    expect(schedule.dueBy(0)).toBe(1);
    expect(schedule.dueBy(4.99)).toBe(1);
    expect(schedule.dueBy(5)).toBe(2);
    expect(schedule.dueBy(12)).toBe(3);
  });

  it("never counts more than the run holds, however late it is asked", () => {
    expect(arrivalSchedule(200, 1).dueBy(60_000)).toBe(200);
  });

  it("does not drop a request whose due time is a repeating fraction", () => {
    const schedule = arrivalSchedule(3, 10);
    for (let index = 0; index < schedule.total; index++) {
      expect(schedule.dueBy(schedule.dueAt(index))).toBe(index + 1);
    }
  });

  it("refuses a rate or duration that is not positive", () => {
    expect(() => arrivalSchedule(0, 1)).toThrow(RangeError);
    expect(() => arrivalSchedule(100, 0)).toThrow(RangeError);
  });
});

describe("latency figures", () => {
  it("takes nearest-rank percentiles and the maximum of unsorted samples", () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(latencyFigures(samples)).toEqual({ count: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 });
  });

  it("sorts numerically, not as text", () => {
    expect(latencyFigures([10, 9, 100]).maxMs).toBe(100);
  });

  it("has no figures without samples", () => {
    expect(latencyFigures([])).toMatchObject({ count: 0, p50Ms: Number.NaN, maxMs: Number.NaN });
  });
});
