import { describe, expect, it } from "vitest";
import { createConcurrencyLimit, OverloadedError } from "./concurrency-limit.js";

/** A task that runs until the test releases it. */
const gate = <T>(value: T) => {
  let release: () => void = () => {};
  let started = false;
  const task = () => {
    started = true;
    return new Promise<T>((resolve) => {
      release = () => resolve(value);
    });
  };
  return {
    task,
    release: () => release(),
    get started() {
      return started;
    },
  };
};

describe("createConcurrencyLimit", () => {
  it("runs at most maxConcurrent tasks and starts waiting ones in arrival order", async () => {
    const limit = createConcurrencyLimit(2, 10);
    const gates = [gate("a"), gate("b"), gate("c"), gate("d")];
    const results = gates.map((one) => limit.run(one.task));
    expect(gates.map((one) => one.started)).toEqual([true, true, false, false]);
    expect([limit.active, limit.queued]).toEqual([2, 2]);

    gates[1]?.release();
    await results[1];
    expect(gates.map((one) => one.started)).toEqual([true, true, true, false]);

    gates[0]?.release();
    gates[2]?.release();
    await Promise.all([results[0], results[2]]);
    expect(gates[3]?.started).toBe(true);
    gates[3]?.release();
    await expect(Promise.all(results)).resolves.toEqual(["a", "b", "c", "d"]);
    expect([limit.active, limit.queued]).toEqual([0, 0]);
  });

  it("refuses work with OverloadedError once the queue is full, and accepts it again when there is room", async () => {
    const limit = createConcurrencyLimit(1, 1);
    const running = gate(1);
    const waiting = gate(2);
    const first = limit.run(running.task);
    const second = limit.run(waiting.task);
    await expect(limit.run(async () => 3)).rejects.toBeInstanceOf(OverloadedError);
    expect(waiting.started).toBe(false);

    running.release();
    await first;
    waiting.release();
    await second;
    await expect(limit.run(async () => 4)).resolves.toBe(4);
  });

  it("with no queue, refuses everything beyond the running tasks", async () => {
    const limit = createConcurrencyLimit(1, 0);
    const running = gate("x");
    const first = limit.run(running.task);
    await expect(limit.run(async () => "y")).rejects.toThrow(/1 queries are running and 0 are waiting/);
    running.release();
    await expect(first).resolves.toBe("x");
  });

  it("drops a waiting task whose signal aborts, with the abort reason, and never starts it", async () => {
    const limit = createConcurrencyLimit(1, 5);
    const running = gate("run");
    const waiting = gate("wait");
    const first = limit.run(running.task);
    const controller = new AbortController();
    const second = limit.run(waiting.task, controller.signal);
    const reason = new Error("gave up");
    controller.abort(reason);
    await expect(second).rejects.toBe(reason);
    expect(limit.queued).toBe(0);

    running.release();
    await first;
    expect(waiting.started).toBe(false);
    await expect(limit.run(() => Promise.resolve("next"))).resolves.toBe("next");
  });

  it("frees the slot of a task that fails or throws synchronously", async () => {
    const limit = createConcurrencyLimit(1, 0);
    await expect(limit.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(
      limit.run(() => {
        throw new Error("sync boom");
      }),
    ).rejects.toThrow("sync boom");
    await expect(limit.run(async () => "still works")).resolves.toBe("still works");
  });

  it("is idle only once nothing runs and nothing waits", async () => {
    const limit = createConcurrencyLimit(1, 1);
    const idle = () => limit.active === 0 && limit.queued === 0;
    expect(idle()).toBe(true);
    const a = gate(1);
    const b = gate(2);
    const runs = [limit.run(a.task), limit.run(b.task)];
    a.release();
    await runs[0];
    expect(idle()).toBe(false);
    b.release();
    await Promise.all(runs);
    expect(idle()).toBe(true);
  });

  it("rejects nonsensical bounds", () => {
    expect(() => createConcurrencyLimit(0, 1)).toThrow(RangeError);
    expect(() => createConcurrencyLimit(1, -1)).toThrow(RangeError);
  });
});
