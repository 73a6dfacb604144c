import { describe, expect, it } from "vitest";
import { readPage } from "./store.js";

/** A fetched page: messages with their stream sequence and how many remain after each. */
const page = (...messages: [seq: number, pending: number][]) => {
  let read = 0;
  const iterable = (async function* () {
    for (const [seq, pending] of messages) {
      read++;
      yield { seq, info: { pending } };
    }
  })();
  return { iterable, read: () => read };
};

const toSeq = (msg: { seq: number }) => msg.seq;

describe("readPage", () => {
  it("reads a whole page that ends before `until` and says another follows", async () => {
    const { iterable } = page([3, 9], [4, 8], [6, 7]);
    expect(await readPage(iterable, 100, toSeq)).toEqual({ records: [3, 4, 6], last: false });
  });

  it("stops at `until`, reading no further", async () => {
    const { iterable, read } = page([3, 9], [4, 8], [5, 7], [6, 6]);
    expect(await readPage(iterable, 4, toSeq)).toEqual({ records: [3, 4], last: true });
    expect(read()).toBe(2);
  });

  it("leaves out a message past `until` (the records between were deleted)", async () => {
    const { iterable } = page([3, 9], [7, 8]);
    expect(await readPage(iterable, 5, toSeq)).toEqual({ records: [3], last: true });
  });

  it("stops at the end of the stream", async () => {
    const { iterable } = page([3, 1], [4, 0]);
    expect(await readPage(iterable, 100, toSeq)).toEqual({ records: [3, 4], last: true });
  });

  it("an empty page is not the last but holds nothing", async () => {
    const { iterable } = page();
    expect(await readPage(iterable, 100, toSeq)).toEqual({ records: [], last: false });
  });
});
