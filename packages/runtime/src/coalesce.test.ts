import { describe, expect, it } from "vitest";
import { createCoalescer } from "./coalesce.js";

describe("createCoalescer", () => {
  it("runs identical work once while it is in flight, and again afterwards", async () => {
    const coalescer = createCoalescer();
    let runs = 0;
    let release: (value: number) => void = () => {};
    const work = () => {
      runs++;
      return new Promise<number>((resolve) => {
        release = resolve;
      });
    };
    const first = coalescer.run("a", work);
    const second = coalescer.run("a", work);
    expect(runs).toBe(1);
    release(7);
    await expect(Promise.all([first, second])).resolves.toEqual([7, 7]);
    const third = coalescer.run("a", work);
    expect(runs).toBe(2);
    release(8);
    await expect(third).resolves.toBe(8);
  });

  it("keeps different keys apart and shares failures only with those who joined", async () => {
    const coalescer = createCoalescer();
    const failing = coalescer.run("x", () => Promise.reject(new Error("down")));
    const other = coalescer.run("y", () => Promise.resolve("fine"));
    await expect(failing).rejects.toThrow("down");
    await expect(other).resolves.toBe("fine");
    await expect(coalescer.run("x", () => Promise.resolve("back"))).resolves.toBe("back");
  });
});
