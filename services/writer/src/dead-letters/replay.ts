import { decodeEvent } from "@vigil/shared";
import type { ReplaySelection } from "./arguments.js";
import type { DeadLetterRecord } from "./record.js";
import type { DeadLetterStore } from "./store.js";

/** The stream's confirmation of one replayed payload. */
export interface ReplayAck {
  /** Sequence of the payload in the events stream. */
  readonly seq: number;
  /** True when the stream already had a publish with the same `Nats-Msg-Id` in its duplicate window. */
  readonly duplicate: boolean;
}

/** What replay works with. */
export interface ReplayDeps {
  readonly store: DeadLetterStore;
  /** Publishes `payload` on `events` with `Nats-Msg-Id` = `msgId` and resolves once the stream confirms it. */
  readonly publish: (payload: Uint8Array, msgId: string) => Promise<ReplayAck>;
  /** The writers' WRITER_MAX_EVENT_BYTES: a payload above it would be dead-lettered again. */
  readonly maxEventBytes: number;
}

export interface ReplayOptions {
  readonly keep: boolean;
  readonly force: boolean;
}

/** What happened to one selected record. */
export type ReplayOutcome =
  | {
      readonly kind: "replayed";
      readonly record: DeadLetterRecord;
      readonly ack: ReplayAck;
      /** False with `--keep`. */
      readonly deleted: boolean;
    }
  /** Left in place: the payload still breaks the event contract, so the writer would refuse it again. */
  | { readonly kind: "skipped"; readonly record: DeadLetterRecord; readonly reason: string }
  /** A sequence given on the command line that DEADLETTERS does not hold. */
  | { readonly kind: "missing"; readonly seq: number }
  /** The publish was not confirmed; replay stops here. */
  | { readonly kind: "failed"; readonly seq: number; readonly stage: "publish"; readonly error: Error }
  /** The payload is replayed, but the record could not be deleted; replay stops here. */
  | {
      readonly kind: "failed";
      readonly seq: number;
      readonly stage: "delete";
      readonly ack: ReplayAck;
      readonly error: Error;
    };

/**
 * `Nats-Msg-Id` of the replay of dead letter `seq`. It differs from the original publish's (the
 * event id), which the events stream may still remember, and is the same for every replay of one
 * record, so that a replay repeated within the duplicate window (after a failed delete, or with
 * `--keep`) is stored once.
 */
export const replayMsgId = (seq: number): string => `replay-${seq}`;

/** Why `record`'s payload would be dead-lettered again, or undefined when the writers would take it. */
const stillInvalid = (record: DeadLetterRecord, maxEventBytes: number): string | undefined => {
  const decoded = decodeEvent(record.payload, maxEventBytes);
  return decoded.ok ? undefined : `${decoded.rejection.code}: ${decoded.rejection.reason}`;
};

/** The records `selection` names, oldest first for `--all`, in the order given otherwise. */
async function* selected(
  store: DeadLetterStore,
  selection: ReplaySelection,
): AsyncGenerator<DeadLetterRecord | { readonly missing: number }> {
  if (selection.kind === "sequences") {
    for (const seq of selection.sequences) yield (await store.get(seq)) ?? { missing: seq };
    return;
  }
  const bounds = await store.bounds();
  if (bounds === undefined || bounds.count === 0) return;
  // Bounded by the last record there is now: a forced replay that is dead-lettered again adds new
  // records, which must not be replayed in turn.
  for await (const record of store.read(bounds.first, bounds.last)) {
    if (selection.code === undefined || record.code === selection.code) yield record;
  }
}

/**
 * Replays the selected dead letters one at a time: publishes the original payload to `events`,
 * waits for the stream's confirmation, then deletes the record (unless `keep`). Each outcome is
 * reported through `report` as it happens, so that a long replay shows progress and a failure
 * shows exactly how far it got. Stops at the first publish or delete that fails: the records
 * after it are untouched, and running the same replay again is safe.
 */
export const replayDeadLetters = async (
  { store, publish, maxEventBytes }: ReplayDeps,
  selection: ReplaySelection,
  { keep, force }: ReplayOptions,
  report: (outcome: ReplayOutcome) => void,
): Promise<void> => {
  for await (const item of selected(store, selection)) {
    if ("missing" in item) {
      report({ kind: "missing", seq: item.missing });
      continue;
    }
    const invalid = force ? undefined : stillInvalid(item, maxEventBytes);
    if (invalid !== undefined) {
      report({ kind: "skipped", record: item, reason: invalid });
      continue;
    }
    let ack: ReplayAck;
    try {
      ack = await publish(item.payload, replayMsgId(item.seq));
    } catch (err) {
      report({ kind: "failed", seq: item.seq, stage: "publish", error: err as Error });
      return;
    }
    if (!keep) {
      try {
        await store.remove(item.seq);
      } catch (err) {
        report({ kind: "failed", seq: item.seq, stage: "delete", ack, error: err as Error });
        return;
      }
    }
    report({ kind: "replayed", record: item, ack, deleted: !keep });
  }
};
