import { describe, expect, it } from "vitest";
import { createInFlight } from "./in-flight.js";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("createInFlight", () => {
  it("is full at the bound", () => {
    const inFlight = createInFlight(2);
    inFlight.add();
    expect(inFlight.full()).toBe(false);
    inFlight.add();
    expect(inFlight.full()).toBe(true);
    expect(inFlight.count()).toBe(2);
  });

  it("makes room once an eighth of the bound is settled, and at least one", async () => {
    for (const [bound, toSettle] of [
      [16, 2],
      [4, 1],
    ] as const) {
      const inFlight = createInFlight(bound);
      for (let i = 0; i < bound; i++) inFlight.add();
      let room = false;
      void inFlight.untilRoom().then(() => {
        room = true;
      });
      for (let i = 1; i < toSettle; i++) inFlight.settle();
      await turn();
      expect(room).toBe(false);
      inFlight.settle();
      await turn();
      expect(room).toBe(true);
    }
  });

  it("wake gives room at once", async () => {
    const inFlight = createInFlight(1);
    inFlight.add();
    const room = inFlight.untilRoom();
    inFlight.wake();
    await room;
    expect(inFlight.count()).toBe(1);
  });

  it("is idle at once when empty, and otherwise once every event is settled", async () => {
    const inFlight = createInFlight(4);
    await inFlight.untilIdle();
    inFlight.add();
    inFlight.add();
    let idle = false;
    void inFlight.untilIdle().then(() => {
      idle = true;
    });
    inFlight.settle();
    await turn();
    expect(idle).toBe(false);
    inFlight.settle();
    await turn();
    expect(idle).toBe(true);
  });
});
