import type { SequencedEvent } from "@vigil/influx";

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
