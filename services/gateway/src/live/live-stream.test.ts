import { describe, expect, it } from "vitest";
import { createUpstreamWatch } from "./live-stream.js";

describe("createUpstreamWatch", () => {
  it("reports the EVENTS sequences that never reached LIVE, and nothing for a restart", () => {
    const holes: [number, number][] = [];
    const watch = createUpstreamWatch((from, to) => holes.push([from, to]));
    for (const seq of [7, 8, 9, 12, 13, undefined, Number.NaN, 14, 20, 1, 2, 4]) watch.observe(seq);
    expect(holes).toEqual([
      [10, 11],
      [15, 19],
      [3, 3],
    ]);
  });
});
