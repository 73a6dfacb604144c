import { describe, expect, it } from "vitest";
import { createRecentMessages } from "./recent-messages.js";
import type { LiveMessage } from "./resume.js";

const message = (seq: number, size = 10): LiveMessage => ({ seq, event: undefined, size });
const seqs = (messages: readonly LiveMessage[]) => messages.map((m) => m.seq);

describe("the newest messages of LIVE in memory", () => {
  it("holds the newest, in order, dropping the oldest beyond its capacity", () => {
    const recent = createRecentMessages(5);
    for (let seq = 1; seq <= 8; seq++) recent.add(message(seq));
    expect(recent.size).toBe(5);
    expect(seqs(recent.from(4, 1_000))).toEqual([4, 5, 6, 7, 8]);
    expect(recent.from(3, 1_000)).toEqual([]);
    expect(recent.from(9, 1_000)).toEqual([]);
  });

  it("ignores a message it holds already, and starts afresh after a hole", () => {
    const recent = createRecentMessages(10);
    for (let seq = 1; seq <= 4; seq++) recent.add(message(seq));
    const held = recent.from(3, 1_000)[0];
    recent.add(message(3));
    expect(recent.from(3, 1_000)[0]).toBe(held);
    recent.add(message(9));
    expect(recent.size).toBe(1);
    expect(recent.from(2, 1_000)).toEqual([]);
    expect(seqs(recent.from(9, 1_000))).toEqual([9]);
  });

  it("gives as many as fit in the bytes asked for, and always one", () => {
    const recent = createRecentMessages(10);
    for (let seq = 1; seq <= 6; seq++) recent.add(message(seq, seq === 2 ? 500 : 10));
    expect(seqs(recent.from(3, 35))).toEqual([3, 4, 5]);
    expect(seqs(recent.from(2, 35))).toEqual([2]);
  });

  it("holds nothing with a capacity of 0", () => {
    const recent = createRecentMessages(0);
    recent.add(message(1));
    expect(recent.size).toBe(0);
    expect(recent.from(1, 1_000)).toEqual([]);
  });
});
