import { type ApiError, JetStreamApiError, JetStreamError, type PubAck, PubHeaders } from "@nats-io/jetstream";
import { headers, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { createInboxRequests, type InboxRequests } from "./inbox-requests.js";

/** Options of one confirmed publish, as in `JetStreamClient.publish`. */
export interface ConfirmedPublishOptions {
  /**
   * `Nats-Msg-Id`: the stream stores a second publish with the same id only once. Without one the
   * message carries no id (a record that is never retried needs none).
   */
  readonly msgID?: string;
  /** Milliseconds to wait for the stream's acknowledgement. */
  readonly timeout: number;
  /** More headers of this message; `Nats-Msg-Id`, when given, is set on them. */
  readonly headers?: MsgHdrs;
}

/** Publishes into a JetStream stream and resolves with the stream's acknowledgement. */
export interface ConfirmedPublish {
  publish(subject: string, payload: Uint8Array, options: ConfirmedPublishOptions): Promise<PubAck>;
  /** Stops listening for acknowledgements; publishes still waiting fail. */
  close(): void;
}

/** Settings of {@link createConfirmedPublish}. */
export interface ConfirmedPublishSettings {
  /** Prefix of the reply subjects, as the connection's `inboxPrefix` (`NATS_INBOX_PREFIX`); default `_INBOX`. */
  readonly inboxPrefix?: string | undefined;
  /** How often waiting publishes are checked for their timeout, in milliseconds. */
  readonly sweepMs?: number;
}

/** The stream's acknowledgement in `reply`, or the error it or its status says. */
const readAck = (reply: Msg): PubAck => {
  if (reply.data.length === 0) {
    const code = reply.headers?.code ?? 0;
    throw new JetStreamError(`unexpected status ${code} ${reply.headers?.description ?? ""}`.trim());
  }
  let ack: Partial<PubAck> & { error?: ApiError };
  try {
    ack = reply.json();
  } catch (cause) {
    throw new JetStreamError("acknowledgement is not JSON", { cause });
  }
  if (ack.error !== undefined) throw new JetStreamApiError(ack.error);
  if (typeof ack.stream !== "string" || typeof ack.seq !== "number") throw new JetStreamError("invalid ack response");
  return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true };
};

/**
 * A drop-in for `jetstream(nc).publish` with `msgID` and `timeout`, built for many publishes in
 * flight. It sends the same message (payload, `Nats-Msg-Id` header, a reply subject per publish)
 * and reads the same acknowledgement, but listens for every acknowledgement on one wildcard inbox
 * and expires waiting publishes with one periodic sweep ({@link createInboxRequests}). The
 * client's own publish builds a request object, a timer and several stack-capturing errors per
 * call, which made the daemon spend three times as much CPU per event. Timeouts fire up to
 * `sweepMs` late.
 */
export const createConfirmedPublish = (nc: NatsConnection, settings: ConfirmedPublishSettings = {}): ConfirmedPublish =>
  confirmedPublishOver(createInboxRequests(nc, settings));

/**
 * The confirmed publish of {@link createConfirmedPublish} over `requests`, an inbox the caller may
 * use for other requests too (one wildcard subscription and one sweep for all); closing the
 * publisher closes it.
 */
export const confirmedPublishOver = (requests: InboxRequests): ConfirmedPublish => {
  // Encoded synchronously inside `nc.publish`, so one instance serves every publish.
  const msgIdHeader = headers();
  return {
    publish(subject, payload, options) {
      const messageHeaders = options.msgID === undefined ? options.headers : (options.headers ?? msgIdHeader);
      if (options.msgID !== undefined) messageHeaders?.set(PubHeaders.MsgIdHdr, options.msgID);
      return requests.request(subject, payload, { timeout: options.timeout, headers: messageHeaders }).then(readAck);
    },
    close() {
      requests.close(new JetStreamError("the publisher is closed"));
    },
  };
};
