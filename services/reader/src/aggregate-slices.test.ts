import { describe, expect, it } from "vitest";
import { sliceWindow } from "./aggregate-slices.js";

const HOUR = 3_600_000;
const from = new Date("2026-12-02T10:00:00.000Z");
const to = new Date(from.getTime() + HOUR);

/** The parts' edges as milliseconds after `from`. */
const edges = (slices: ReturnType<typeof sliceWindow>) =>
  slices.map((slice) => [slice.from.getTime() - from.getTime(), slice.to.getTime() - from.getTime()]);

describe("sliceWindow", () => {
  it("gives the whole window when asked for one part", () => {
    expect(sliceWindow(from, to, 1)).toEqual([{ from, to }]);
  });

  it("cuts the window into equal consecutive parts, the first from `from`, the last to `to`", () => {
    expect(edges(sliceWindow(from, to, 4))).toEqual([
      [0, HOUR / 4],
      [HOUR / 4, HOUR / 2],
      [HOUR / 2, (3 * HOUR) / 4],
      [(3 * HOUR) / 4, HOUR],
    ]);
  });

  it("leaves no instant out and none in two parts when the window does not divide evenly", () => {
    const slices = sliceWindow(from, new Date(from.getTime() + 1_000), 7);
    expect(slices).toHaveLength(7);
    expect(slices[0]?.from).toEqual(from);
    expect(slices.at(-1)?.to).toEqual(new Date(from.getTime() + 1_000));
    for (let index = 1; index < slices.length; index++) {
      expect(slices[index]?.from).toEqual(slices[index - 1]?.to);
      expect(slices[index - 1]?.to.getTime()).toBeGreaterThan(slices[index - 1]?.from.getTime() ?? Number.NaN);
    }
  });

  it("makes no empty part: a window of fewer milliseconds than parts gets one part per millisecond", () => {
    expect(edges(sliceWindow(from, new Date(from.getTime() + 3), 16))).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
  });
});
