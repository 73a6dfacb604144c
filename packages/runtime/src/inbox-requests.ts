import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  TimeoutError,
} from "@nats-io/nats-core";

/** Options of one request. */
export interface InboxRequestOptions {
  /** Milliseconds to wait for the reply. */
  readonly timeout: number;
  /** Headers of the request; encoded before `request` returns, so one instance may serve many. */
  readonly headers?: MsgHdrs | undefined;
}

/** Sends requests and resolves with their one reply. */
export interface InboxRequests {
  /**
   * Resolves with the reply, whatever its status (a status reply has empty data and a `code`
   * header), except "no responders" (503), which rejects with `NoRespondersError`; rejects with
   * `TimeoutError` when no reply came in time.
   */
  request(subject: string, payload: Uint8Array, options: InboxRequestOptions): Promise<Msg>;
  /** Stops listening for replies; requests still waiting, and every later one, fail with `reason`. */
  close(reason?: Error): void;
}

/** Settings of {@link createInboxRequests}. */
export interface InboxRequestsSettings {
  /** Prefix of the reply subjects, as the connection's `inboxPrefix` (`NATS_INBOX_PREFIX`); default `_INBOX`. */
  readonly inboxPrefix?: string | undefined;
  /** How often waiting requests are checked for their timeout, in milliseconds. */
  readonly sweepMs?: number;
}

/** The error every request fails with once {@link InboxRequests.close} was called. */
export class InboxRequestsClosedError extends Error {
  override readonly name = "InboxRequestsClosedError";
  constructor() {
    super("the requests' inbox is closed");
  }
}

interface Waiting {
  readonly subject: string;
  readonly deadline: number;
  resolve(reply: Msg): void;
  reject(err: Error): void;
}

/**
 * Requests built for many in flight: every reply arrives on one wildcard inbox subscription and
 * one periodic sweep expires the requests that waited too long. `nc.request` builds a request
 * object, a timer and three stack-capturing errors per call (nats.js's async traces and its
 * cancellation), which at a thousand requests a second is a sizeable part of a service's CPU.
 * Timeouts fire up to `sweepMs` late.
 */
export const createInboxRequests = (nc: NatsConnection, settings: InboxRequestsSettings = {}): InboxRequests => {
  const { inboxPrefix, sweepMs = 100 } = settings;
  const prefix = `${createInbox(inboxPrefix)}.`;
  const waiting = new Map<string, Waiting>();
  let sequence = 0;
  // Set when the server ends the inbox subscription (e.g. a permissions violation): no reply can
  // arrive after that, so requests fail at once with the reason.
  let broken: Error | undefined;

  const settle = (err: Error | null, msg: Msg) => {
    if (err !== null) {
      broken = err;
      return failAll(err);
    }
    const token = msg.subject.slice(prefix.length);
    const entry = waiting.get(token);
    // A reply that arrives after its request timed out: the caller already knows it failed.
    if (entry === undefined) return;
    waiting.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) entry.reject(new NoRespondersError(entry.subject));
    else entry.resolve(msg);
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
    request(subject, payload, options) {
      const token = (sequence++).toString(36);
      return new Promise<Msg>((resolve, reject) => {
        if (broken !== undefined) {
          reject(broken);
          return;
        }
        try {
          const reply = prefix + token;
          nc.publish(subject, payload, options.headers === undefined ? { reply } : { reply, headers: options.headers });
        } catch (err) {
          reject(err);
          return;
        }
        waiting.set(token, { subject, deadline: performance.now() + options.timeout, resolve, reject });
      });
    },
    close(reason = new InboxRequestsClosedError()) {
      clearInterval(sweep);
      subscription.unsubscribe();
      broken = reason;
      failAll(broken);
    },
  };
};
