import { describe, expect, it } from "vitest";
import { createFeedPacing, createUpstreamWatch } from "./live-stream.js";

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

describe("createFeedPacing", () => {
  it("is due once a slice has run its length, and starts the next slice once the event loop has had a turn", async () => {
    let now = 1_000;
    const pacing = createFeedPacing(50, () => now);
    expect(pacing.due()).toBe(false);
    now += 49;
    expect(pacing.due()).toBe(false);
    now += 1;
    expect(pacing.due()).toBe(true);
    const turned = pacing.turn();
    now += 5;
    await turned;
    expect(pacing.due()).toBe(false);
    now += 50;
    expect(pacing.due()).toBe(true);
  });
});
