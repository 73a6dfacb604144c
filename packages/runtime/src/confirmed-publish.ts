import { type ApiError, JetStreamApiError, JetStreamError, type PubAck, PubHeaders } from "@nats-io/jetstream";
import {
  createInbox,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  TimeoutError,
} from "@nats-io/nats-core";

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

interface Waiting {
  readonly subject: string;
  readonly deadline: number;
  resolve(ack: PubAck): void;
  reject(err: Error): void;
}

/**
 * A drop-in for `jetstream(nc).publish` with `msgID` and `timeout`, built for many publishes in
 * flight. It sends the same message (payload, `Nats-Msg-Id` header, a reply subject per publish)
 * and reads the same acknowledgement, but listens for every acknowledgement on one wildcard inbox
 * and expires waiting publishes with one periodic sweep. The client's own publish builds a request
 * object, a timer and several stack-capturing errors per call, which made the daemon spend three
 * times as much CPU per event. Timeouts fire up to `sweepMs` late.
 */
export const createConfirmedPublish = (
  nc: NatsConnection,
  settings: ConfirmedPublishSettings = {},
): ConfirmedPublish => {
  const { inboxPrefix, sweepMs = 100 } = settings;
  const prefix = `${createInbox(inboxPrefix)}.`;
  const waiting = new Map<string, Waiting>();
  // Encoded synchronously inside `nc.publish`, so one instance serves every publish.
  const msgIdHeader = headers();
  let sequence = 0;
  // Set when the server ends the inbox subscription (e.g. a permissions violation): no
  // acknowledgement can arrive after that, so publishes fail at once with the reason.
  let broken: Error | undefined;

  const settle = (err: Error | null, msg: Msg) => {
    if (err !== null) {
      broken = err;
      return failAll(err);
    }
    const token = msg.subject.slice(prefix.length);
    const entry = waiting.get(token);
    // An acknowledgement that arrives after its publish timed out: the retry will learn the outcome.
    if (entry === undefined) return;
    waiting.delete(token);
    if (msg.data.length === 0) {
      const code = msg.headers?.code ?? 0;
      entry.reject(
        code === 503
          ? new NoRespondersError(entry.subject)
          : new JetStreamError(`unexpected status ${code} ${msg.headers?.description ?? ""}`.trim()),
      );
      return;
    }
    let reply: Partial<PubAck> & { error?: ApiError };
    try {
      reply = msg.json();
    } catch (cause) {
      entry.reject(new JetStreamError("acknowledgement is not JSON", { cause }));
      return;
    }
    if (reply.error !== undefined) entry.reject(new JetStreamApiError(reply.error));
    else if (typeof reply.stream !== "string" || typeof reply.seq !== "number") {
      entry.reject(new JetStreamError("invalid ack response"));
    } else entry.resolve({ stream: reply.stream, seq: reply.seq, duplicate: reply.duplicate === true });
  };

  const failAll = (err: Error) => {
    for (const entry of waiting.values()) entry.reject(err);
    waiting.clear();
  };

  const subscription = nc.subscribe(`${prefix}*`, { callback: settle });
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [token, entry] of waiting) {
      if (entry.deadline > now) continue;
      waiting.delete(token);
      entry.reject(new TimeoutError());
    }
  }, sweepMs);
  sweep.unref();

  return {
    publish(subject, payload, options) {
      const token = (sequence++).toString(36);
      return new Promise<PubAck>((resolve, reject) => {
        if (broken !== undefined) {
          reject(broken);
          return;
        }
        const messageHeaders = options.msgID === undefined ? options.headers : (options.headers ?? msgIdHeader);
        if (options.msgID !== undefined) messageHeaders?.set(PubHeaders.MsgIdHdr, options.msgID);
        try {
          const reply = prefix + token;
          nc.publish(subject, payload, messageHeaders === undefined ? { reply } : { reply, headers: messageHeaders });
        } catch (err) {
          reject(err);
          return;
        }
        waiting.set(token, { subject, deadline: performance.now() + options.timeout, resolve, reject });
      });
    },
    close() {
      clearInterval(sweep);
      subscription.unsubscribe();
      broken = new JetStreamError("the publisher is closed");
      failAll(broken);
    },
  };
};
