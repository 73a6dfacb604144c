import type { DeadLetterCode } from "../dead-letter.js";
import type { DeadLetterRecord } from "./record.js";
import type { DeadLetterBounds, DeadLetterStore } from "./store.js";

export interface ListOptions {
  readonly limit: number;
  readonly from: number | undefined;
  readonly code: DeadLetterCode | undefined;
}

/** One page of dead letters. */
export interface DeadLetterPage {
  readonly records: readonly DeadLetterRecord[];
  /** The stream as it was when reading started; undefined when it does not exist. */
  readonly bounds: DeadLetterBounds | undefined;
  /** Sequence of the first matching record after this page, when there is one. */
  readonly next: number | undefined;
}

/** Reads up to `limit` records matching `code`, oldest first, from sequence `from` on. */
export const listDeadLetters = async (
  store: DeadLetterStore,
  { limit, from, code }: ListOptions,
): Promise<DeadLetterPage> => {
  const bounds = await store.bounds();
  if (bounds === undefined || bounds.count === 0) return { records: [], bounds, next: undefined };
  const records: DeadLetterRecord[] = [];
  for await (const record of store.read(Math.max(from ?? bounds.first, bounds.first), bounds.last)) {
    if (code !== undefined && record.code !== code) continue;
    if (records.length === limit) return { records, bounds, next: record.seq };
    records.push(record);
  }
  return { records, bounds, next: undefined };
};
