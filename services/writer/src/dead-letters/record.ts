import type { MsgHdrs } from "@nats-io/nats-core";
import { printable, truncate } from "@vigil/runtime";
import { DEAD_LETTER_HEADERS } from "@vigil/shared";

/** One record of the DEADLETTERS stream, as stored: what the writer said about it, and the payload. */
export interface DeadLetterRecord {
  /** Sequence in DEADLETTERS: what `replay` takes. */
  readonly seq: number;
  /** When the stream stored the record. */
  readonly storedAt: Date;
  /**
   * The `Vigil-*` headers as found. A record published by something other than the writer may
   * lack any of them, so each is optional and the code is not narrowed to the known ones.
   */
  readonly code: string | undefined;
  readonly reason: string | undefined;
  readonly rejectedAt: string | undefined;
  readonly originalSubject: string | undefined;
  readonly originalSequence: number | undefined;
  /** The original payload, unchanged. */
  readonly payload: Uint8Array;
}

/** What a stored message looks like to {@link toDeadLetterRecord}: `StoredMsg` and `JsMsg` both fit. */
export interface StoredDeadLetter {
  readonly seq: number;
  readonly storedAt: Date;
  readonly headers: MsgHdrs | undefined;
  readonly data: Uint8Array;
}

const header = (headers: MsgHdrs | undefined, name: string): string | undefined => {
  const value = headers?.get(name);
  return value === undefined || value === "" ? undefined : value;
};

/** Reads a stored dead letter into a {@link DeadLetterRecord}. */
export const toDeadLetterRecord = ({ seq, storedAt, headers, data }: StoredDeadLetter): DeadLetterRecord => {
  const original = Number(header(headers, DEAD_LETTER_HEADERS.streamSequence));
  return {
    seq,
    storedAt,
    code: header(headers, DEAD_LETTER_HEADERS.code),
    reason: header(headers, DEAD_LETTER_HEADERS.reason),
    rejectedAt: header(headers, DEAD_LETTER_HEADERS.rejectedAt),
    originalSubject: header(headers, DEAD_LETTER_HEADERS.subject),
    originalSequence: Number.isSafeInteger(original) && original > 0 ? original : undefined,
    payload: data,
  };
};

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The payload as text when it is UTF-8, otherwise undefined. */
export const utf8 = (payload: Uint8Array): string | undefined => {
  try {
    return strictUtf8.decode(payload);
  } catch {
    return undefined;
  }
};

/** Characters of payload {@link previewPayload} shows by default. */
export const PREVIEW_CHARS = 100;

/**
 * `text` on one line, safe to print on a terminal (`printable` of @vigil/runtime says how), cut
 * to at most `maxChars` characters.
 */
export const printableLine = (text: string, maxChars: number): string => truncate(printable(text), maxChars);

/** The start of a payload on one line (see {@link printableLine}); a payload that is not UTF-8 is shown as hex. */
export const previewPayload = (payload: Uint8Array, maxChars: number = PREVIEW_CHARS): string => {
  const text = utf8(payload);
  if (text !== undefined) return printableLine(text, maxChars);
  const shown = payload.subarray(0, Math.max(1, Math.floor((maxChars - 12) / 3)));
  const hex = Array.from(shown, (byte) => byte.toString(16).padStart(2, "0")).join(" ");
  return `(not UTF-8) ${hex}${shown.byteLength < payload.byteLength ? " …" : ""}`;
};
