import { DEAD_LETTER_STREAM, EVENTS_STREAM, MAX_REASON_CHARS } from "@vigil/shared";
import type { DeadLetterPage, ListOptions } from "./list.js";
import { type DeadLetterRecord, previewPayload, printableLine, utf8 } from "./record.js";
import type { ReplayOutcome } from "./replay.js";

/** Header values other than the reason are short; anything longer did not come from the writer. */
const MAX_HEADER_CHARS = 64;

/** A record as `list --json` prints it: every field, and the full payload. */
export const recordJson = (record: DeadLetterRecord) => {
  const text = utf8(record.payload);
  return {
    seq: record.seq,
    storedAt: record.storedAt.toISOString(),
    rejectedAt: record.rejectedAt ?? null,
    code: record.code ?? null,
    reason: record.reason ?? null,
    originalSubject: record.originalSubject ?? null,
    originalSequence: record.originalSequence ?? null,
    payloadBytes: record.payload.byteLength,
    payloadEncoding: text === undefined ? "base64" : "utf8",
    payload: text ?? Buffer.from(record.payload).toString("base64"),
  };
};

/** A page as `list --json` prints it. */
export const pageJson = (page: DeadLetterPage) => ({
  stream: DEAD_LETTER_STREAM,
  total: page.bounds?.count ?? 0,
  records: page.records.map(recordJson),
  next: page.next ?? null,
});

/** A record as `list` prints it: a heading line, then the reason and the start of the payload. */
export const renderRecord = (record: DeadLetterRecord): string => {
  const when = printableLine(record.rejectedAt ?? record.storedAt.toISOString(), MAX_HEADER_CHARS);
  const code = record.code === undefined ? "(no code)" : printableLine(record.code, MAX_HEADER_CHARS);
  const origin =
    record.originalSequence === undefined
      ? ""
      : `  from ${printableLine(record.originalSubject ?? "?", MAX_HEADER_CHARS)} seq ${record.originalSequence}`;
  const reason = record.reason === undefined ? "(none given)" : printableLine(record.reason, MAX_REASON_CHARS);
  return [
    `#${record.seq}  ${when}  ${code}${origin}`,
    `    reason   ${reason}`,
    `    payload  ${previewPayload(record.payload)}  (${record.payload.byteLength} bytes)`,
  ].join("\n");
};

/** A page as `list` prints it: the records, then one line saying what was shown and what is left. */
export const renderPage = (page: DeadLetterPage, options: ListOptions): string => {
  if (page.bounds === undefined) {
    return `no dead letters: stream ${DEAD_LETTER_STREAM} does not exist (no writer has started against this server)`;
  }
  const which = options.code === undefined ? "" : ` with code ${options.code}`;
  const held = `${page.bounds.count} in ${DEAD_LETTER_STREAM}`;
  if (page.records.length === 0) return `no dead letters${which} to show (${held})`;
  const shown = `${page.records.length} dead letter${page.records.length === 1 ? "" : "s"}${which} shown, of ${held}`;
  const more = page.next === undefined ? "" : `; more from #${page.next}: list --from ${page.next}`;
  return `${page.records.map(renderRecord).join("\n\n")}\n\n${shown}${more}`;
};

/** One line per replay outcome, as `replay` prints it. */
export const renderOutcome = (outcome: ReplayOutcome): string => {
  switch (outcome.kind) {
    case "replayed": {
      const duplicate = outcome.ack.duplicate ? " (already there from an earlier replay: stored once)" : "";
      const deleted = outcome.deleted ? "; record deleted" : "; record kept";
      return `replayed #${outcome.record.seq} as ${EVENTS_STREAM} seq ${outcome.ack.seq}${duplicate}${deleted}`;
    }
    case "skipped":
      return `skipped #${outcome.record.seq}: still invalid, ${printableLine(outcome.reason, MAX_REASON_CHARS)} (kept; --force replays it anyway)`;
    case "missing":
      return `not found #${outcome.seq}: ${DEAD_LETTER_STREAM} holds no such record`;
    case "failed":
      return outcome.stage === "publish"
        ? `failed #${outcome.seq}: the events stream did not confirm the replay (${outcome.error.message}); stopped, record kept`
        : `failed #${outcome.seq}: replayed as ${EVENTS_STREAM} seq ${outcome.ack.seq}, but deleting the record failed (${outcome.error.message}); stopped`;
  }
};

/** Outcomes of one replay, counted by kind. */
export type ReplayTally = Record<ReplayOutcome["kind"], number>;

/** The last line `replay` prints. */
export const renderTally = (tally: ReplayTally): string => {
  const parts = [`${tally.replayed} replayed`, `${tally.skipped} skipped as still invalid`];
  if (tally.missing > 0) parts.push(`${tally.missing} not found`);
  if (tally.failed > 0) parts.push("stopped at a failure");
  return `replay: ${parts.join(", ")}`;
};
