import { type Msg, type NatsConnection, RequestError, TimeoutError } from "@nats-io/nats-core";
import {
  type AggregatesQuery,
  type AggregatesReply,
  decodeAggregatesReply,
  decodeQueryReply,
  type ErrorReply,
  EVENTS_AGGREGATES_SUBJECT,
  EVENTS_QUERY_SUBJECT,
  type EventsQuery,
  encodeJson,
  type SecurityEvent,
} from "@vigil/shared";

/**
 * Headers a NATS service sets on an error reply. They are read directly rather than through
 * `@nats-io/services`, whose only other use here would be these two names.
 */
const SERVICE_ERROR_HEADER = "Nats-Service-Error";
const SERVICE_ERROR_CODE_HEADER = "Nats-Service-Error-Code";

/** Nobody answered: no reader is subscribed, or none replied in time. */
export class NoAnswerError extends Error {
  override readonly name = "NoAnswerError";
  constructor(
    readonly reason: "no-reader" | "timeout",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The reader answered with an error reply. */
export class ReaderError extends Error {
  override readonly name = "ReaderError";
  constructor(
    /** The error code of the reply (`BAD_REQUEST`, ...), or the service error code when the body had none. */
    readonly code: string,
    /** The reader's message, as it sent it. */
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`the reader answered ${code}: ${reason}`, options);
  }
}

/** The reply does not follow the contract. */
export class ReplyError extends Error {
  override readonly name = "ReplyError";
}

/**
 * Sends `request` to a reader on `subject` and resolves with its successful reply. Rejects with
 * {@link NoAnswerError}, {@link ReaderError} or {@link ReplyError}, or with the connection's own
 * error when it is closed.
 */
export const requestReader = async <T extends object>(
  nc: NatsConnection,
  subject: string,
  request: Uint8Array,
  decode: (payload: Uint8Array) => T | ErrorReply,
  timeoutMs: number,
): Promise<T> => {
  let msg: Msg;
  try {
    msg = await nc.request(subject, request, { timeout: timeoutMs });
  } catch (err) {
    if (err instanceof RequestError && err.isNoResponders()) {
      throw new NoAnswerError("no-reader", `no reader is answering on ${subject}`, { cause: err });
    }
    if (err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError)) {
      throw new NoAnswerError("timeout", `no answer from a reader within ${timeoutMs}ms`, { cause: err });
    }
    throw err;
  }
  const serviceCode = msg.headers?.get(SERVICE_ERROR_CODE_HEADER) ?? "";
  let reply: T | ErrorReply | undefined;
  let problem: unknown;
  try {
    reply = decode(msg.data);
  } catch (err) {
    problem = err;
  }
  if (reply !== undefined && "error" in reply) {
    const { error } = reply as ErrorReply;
    throw new ReaderError(error.code, error.message);
  }
  if (serviceCode !== "") {
    // A service error without our error body, e.g. from the service framework itself.
    const description = msg.headers?.get(SERVICE_ERROR_HEADER) || "(no description)";
    throw new ReaderError(`service error ${serviceCode}`, description);
  }
  if (reply === undefined) {
    throw new ReplyError(`the reader's reply does not follow the contract: ${(problem as Error).message}`, {
      cause: problem,
    });
  }
  return reply;
};

/** Asks a reader on `events.query` for the events `query` describes, newest first (see {@link requestReader}). */
export const queryEvents = async (
  nc: NatsConnection,
  query: EventsQuery,
  timeoutMs: number,
): Promise<SecurityEvent[]> =>
  (await requestReader(nc, EVENTS_QUERY_SUBJECT, encodeJson(query), decodeQueryReply, timeoutMs)).events;

/** Asks a reader on `events.aggregates` for the figures over the window `query` describes (see {@link requestReader}). */
export const queryAggregates = (
  nc: NatsConnection,
  query: AggregatesQuery,
  timeoutMs: number,
): Promise<AggregatesReply> =>
  requestReader(nc, EVENTS_AGGREGATES_SUBJECT, encodeJson(query), decodeAggregatesReply, timeoutMs);
