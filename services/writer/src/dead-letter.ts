import { headers, type MsgHdrs } from "@nats-io/nats-core";
import { backoffDelay, type ConfirmedPublish } from "@vigil/runtime";
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_SUBJECT,
  type EventRejection,
  type EventRejectionCode,
  MAX_REASON_CHARS,
} from "@vigil/shared";
import type { Logger } from "pino";
import type { DeadLetterLog } from "./dead-letter-log.js";
import type { WriterMetrics } from "./metrics.js";
import { deliveryOf, type HeldMessage } from "./pending-event.js";

/**
 * Code of an event InfluxDB refused on its own (for example a field type conflict with points
 * already stored). The shared `EventRejectionCode` only covers what the writer can tell from the
 * payload, so this one lives with the writer.
 */
export const STORAGE_REJECTED = "STORAGE_REJECTED";

/** Every code a dead-letter record may carry in its `Vigil-Reject-Code` header. */
export type DeadLetterCode = EventRejectionCode | typeof STORAGE_REJECTED;

/** What a dead-letter record says about the message it carries. */
export interface DeadLetter {
  readonly code: DeadLetterCode;
  readonly reason: string;
  /** Subject the message was published on. */
  readonly subject: string;
  /** Its sequence in the events stream. */
  readonly streamSequence: number;
  readonly rejectedAt: Date;
}

/** Flattens `text` to one trimmed line of at most `max` characters (headers cannot hold CR or LF). */
export const oneLine = (text: string, max: number = MAX_REASON_CHARS): string => {
  const flat = text.replace(/\p{Cc}+/gu, " ").trim();
  if (flat.length <= max) return flat;
  // Do not cut a surrogate pair in half.
  const end = /[\uD800-\uDBFF]/.test(flat.charAt(max - 2)) ? max - 2 : max - 1;
  return `${flat.slice(0, end)}…`;
};

/** The headers of a dead-letter record. */
export const deadLetterHeaders = (letter: DeadLetter): MsgHdrs => {
  const h = headers();
  h.set(DEAD_LETTER_HEADERS.code, letter.code);
  h.set(DEAD_LETTER_HEADERS.reason, oneLine(letter.reason));
  h.set(DEAD_LETTER_HEADERS.subject, letter.subject);
  h.set(DEAD_LETTER_HEADERS.streamSequence, String(letter.streamSequence));
  h.set(DEAD_LETTER_HEADERS.rejectedAt, letter.rejectedAt.toISOString());
  return h;
};

/**
 * `Nats-Msg-Id` of the record for the message at `streamSequence`: a retried publish for the same
 * message (a redelivery after a lost acknowledgement) is then dropped by the dead-letter stream.
 */
export const deadLetterMsgId = (streamSequence: number): string => `events-${streamSequence}`;

/**
 * The `id` a refused payload claims, for logs only: undefined when it claims none (not JSON, or no
 * string `id`). It is untrusted, so it is cut to the length of a UUID and kept to one line.
 */
export const claimedEventId = (rejection: Pick<EventRejection, "claimedId">): string | undefined =>
  rejection.claimedId === undefined ? undefined : oneLine(rejection.claimedId, 36);

/** Records messages that can never be stored on the dead-letter stream. */
export interface DeadLetterPublisher {
  /**
   * Publishes `msg`'s payload to the dead-letter stream with the reason in its headers, waits for
   * JetStream to confirm, then acknowledges `msg`. When JetStream does not confirm, `msg` is
   * handed back with a delay instead, so that it is retried and nothing is lost. Never rejects.
   */
  publish(msg: HeldMessage, code: DeadLetterCode, reason: string, eventId?: string): Promise<void>;
}

export interface DeadLetterDeps {
  /** The confirmed publish the daemon uses too: one inbox for every acknowledgement. */
  readonly publisher: Pick<ConfirmedPublish, "publish">;
  /** Milliseconds to wait for the dead-letter stream's acknowledgement before retrying. */
  readonly timeoutMs: number;
  /**
   * Largest payload a record can carry whole: the server's max payload less room for the headers.
   * A larger payload is cut to this size and the record says how big it was, because a record
   * that cannot be published would hand its message back forever.
   */
  readonly maxBodyBytes?: number;
  readonly metrics: Pick<WriterMetrics, "deadLettered" | "deadLetterFailures">;
  /** Where failures to record are logged. */
  readonly log: Logger;
  /** Where recorded dead letters are logged (rate-limited: see {@link DeadLetterLog}). */
  readonly deadLetterLog: Pick<DeadLetterLog, "recorded">;
  readonly retry: { readonly initialMs: number; readonly maxMs: number };
}

/** Room left in a NATS message for a record's headers: a 512-character reason is at most 2 KiB. */
export const DEAD_LETTER_HEADER_ALLOWANCE = 4_096;

/**
 * Returns a function whose promise settles on the next turn of the event loop, the same turn for
 * every caller until then: what waits for it runs in one go, with no microtask in between.
 */
const createSharedTurn = (): (() => Promise<void>) => {
  let turn: Promise<void> | undefined;
  return () =>
    (turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        turn = undefined;
        resolve();
      }),
    ));
};

/**
 * Creates the publisher. Records are sent once per turn of the event loop, all of that turn's
 * together: the NATS client writes what is queued to its socket in a microtask after the first
 * publish, and the pull loop yields one between messages, so a record sent as its message arrives
 * went out as a socket write of its own (and a read of its own on the server), which made an
 * invalid message cost several valid ones.
 */
export const createDeadLetterPublisher = ({
  publisher,
  timeoutMs,
  metrics,
  log,
  deadLetterLog,
  retry,
  maxBodyBytes = Number.POSITIVE_INFINITY,
}: DeadLetterDeps): DeadLetterPublisher => {
  const sendTurn = createSharedTurn();
  return {
    publish: async (msg, code, reason, eventId) => {
      await sendTurn();
      const { sequence } = deliveryOf(msg);
      const letter = { code, reason: oneLine(reason), streamSequence: sequence, eventId };
      const truncated = msg.data.byteLength > maxBodyBytes;
      const recordHeaders = deadLetterHeaders({
        code,
        reason: letter.reason,
        subject: msg.subject,
        streamSequence: sequence,
        rejectedAt: new Date(),
      });
      if (truncated) recordHeaders.set(DEAD_LETTER_HEADERS.originalBytes, String(msg.data.byteLength));
      try {
        await publisher.publish(DEAD_LETTER_SUBJECT, truncated ? msg.data.subarray(0, maxBodyBytes) : msg.data, {
          msgID: deadLetterMsgId(sequence),
          headers: recordHeaders,
          timeout: timeoutMs,
        });
      } catch (err) {
        metrics.deadLetterFailures.inc();
        const delayMs = backoffDelay(msg.info.deliveryCount - 1, retry.initialMs, retry.maxMs);
        log.error({ ...letter, err, delayMs }, "cannot record a dead letter; handing the message back to retry");
        try {
          msg.nak(delayMs);
        } catch {
          // Connection closed: the message is redelivered after the consumer's ack wait.
        }
        return;
      }
      try {
        msg.ack();
      } catch {
        // Connection closed: redelivered later, and the record's Nats-Msg-Id keeps it single.
      }
      metrics.deadLettered.inc({ code });
      deadLetterLog.recorded(letter);
    },
  };
};
