import type { SequencedEvent } from "@vigil/influx";
import { readDigits } from "@vigil/shared";

/**
 * The part of a JetStream message the writer relies on once it holds it. `JsMsg` satisfies it;
 * unit tests pass plain objects.
 */
export interface HeldMessage {
  /** Stream sequence: keys the point in InfluxDB and the dead-letter record. */
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly info: { readonly deliveryCount: number };
  ack(): void;
  nak(millis?: number): void;
  working(): void;
}

/** Where a JetStream message stands, as far as the writer needs to know. */
export interface Delivery {
  /** Stream sequence of the message. */
  readonly sequence: number;
  /** Times the message has been delivered, this time included. */
  readonly deliveryCount: number;
}

const ACK_PREFIX = "$JS.ACK.";
const DOT = 46;
// Tokens of a reply subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.
// <nanos>.<pending>`, or the newer form with `<domain>.<account hash>.` after `$JS.ACK.` and at
// least one more token at the end; the two fields sit at these positions in each.
const SHORT_FORM = { tokens: 9, delivered: 4 };
const LONG_FORM = { minTokens: 11, delivered: 6 };
// Where the dots of the subject being read are; one subject at a time, so one array serves all.
const dots = new Int32Array(LONG_FORM.minTokens + 2);

/**
 * Reads the stream sequence and delivery count from the reply subject of a message delivered by
 * a JetStream consumer; `undefined` when the subject is not of that form. `msg.seq` and `msg.info`
 * read the same subject into ten fields with `split` and `parseInt`, which costs more than a
 * microsecond of the writer's budget per message; this scans it once for the two it needs.
 */
export const readDelivery = (reply: string): Delivery | undefined => {
  if (!reply.startsWith(ACK_PREFIX)) return undefined;
  let count = 0;
  for (let i = 0; i < reply.length && count < dots.length; i++) {
    if (reply.charCodeAt(i) === DOT) dots[count++] = i;
  }
  let delivered: number;
  if (count + 1 === SHORT_FORM.tokens) delivered = SHORT_FORM.delivered;
  else if (count + 1 >= LONG_FORM.minTokens) delivered = LONG_FORM.delivered;
  else return undefined;
  // Token `k` runs from just after dot `k - 1` to dot `k`; both tokens read here have a dot after them.
  const deliveryCount = readDigits(reply, (dots[delivered - 1] as number) + 1, dots[delivered] as number);
  const sequence = readDigits(reply, (dots[delivered] as number) + 1, dots[delivered + 1] as number);
  if (deliveryCount < 1 || sequence < 1) return undefined;
  return { sequence, deliveryCount };
};

/**
 * The stream sequence and delivery count of a held message, read from its reply subject when it
 * has one (the client's messages do, though their type does not say so), else from `seq` and `info`.
 */
export const deliveryOf = (msg: Pick<HeldMessage, "seq" | "info">): Delivery => {
  const reply = (msg as { readonly reply?: unknown }).reply;
  const read = typeof reply === "string" ? readDelivery(reply) : undefined;
  return read ?? { sequence: msg.seq, deliveryCount: msg.info.deliveryCount };
};

/** A valid event waiting to be written, with the message to acknowledge once it is. */
export interface PendingEvent extends SequencedEvent {
  readonly msg: HeldMessage;
}

/**
 * Acknowledges every message. Once the connection is closed an acknowledgement can no longer be
 * sent and the messages will simply be redelivered, so that is not treated as an error.
 */
export const ackAll = (items: readonly PendingEvent[]): void => {
  try {
    for (let i = 0; i < items.length; i++) (items[i] as PendingEvent).msg.ack();
  } catch {
    // Connection closed: see above.
  }
};

/** Hands messages back to JetStream for immediate redelivery, to this writer or another one. */
export const handBackAll = (items: readonly PendingEvent[]): void => {
  try {
    for (const item of items) item.msg.nak();
  } catch {
    // Connection closed: they are redelivered after the consumer's ack wait instead.
  }
};
