import { describe, expect, it } from "vitest";
import { createWriteSlots } from "./write-slots.js";

/** Writes that finish (or fail) only when the test says so. */
const controlledWrites = () => {
  const settle: ((err?: Error) => void)[] = [];
  const write = () =>
    new Promise<void>((resolve, reject) => settle.push((err) => (err === undefined ? resolve() : reject(err))));
  return { write, settle };
};

const settledTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("createWriteSlots", () => {
  it("is free until max writes are in flight, and counts their items", () => {
    const writes = controlledWrites();
    const slots = createWriteSlots<number>(2, writes.write, () => {});
    expect(slots.free()).toBe(true);
    slots.start({ items: [1, 2], since: 10 });
    expect(slots.free()).toBe(true);
    slots.start({ items: [3], since: 20 });
    expect(slots.free()).toBe(false);
    expect(slots.itemCount()).toBe(3);
    expect(slots.held()).toEqual([
      { items: [1, 2], since: 10 },
      { items: [3], since: 20 },
    ]);
  });

  it("frees a slot and calls onFinished when a write settles, also when it rejects", async () => {
    const writes = controlledWrites();
    const finished: number[] = [];
    const slots = createWriteSlots<number>(1, writes.write, () => finished.push(slots.itemCount()));
    slots.start({ items: [1, 2], since: 0 });
    writes.settle[0]?.(new Error("bug"));
    await settledTurn();
    expect(finished).toEqual([0]);
    expect(slots.free()).toBe(true);
    expect(slots.held()).toEqual([]);
  });

  it("settled waits for every write in flight", async () => {
    const writes = controlledWrites();
    const slots = createWriteSlots<number>(2, writes.write, () => {});
    slots.start({ items: [1], since: 0 });
    slots.start({ items: [2], since: 0 });
    let done = false;
    const settled = slots.settled().then(() => {
      done = true;
    });
    writes.settle[0]?.();
    await settledTurn();
    expect(done).toBe(false);
    writes.settle[1]?.();
    await settled;
    expect(done).toBe(true);
    expect(slots.itemCount()).toBe(0);
  });
});
