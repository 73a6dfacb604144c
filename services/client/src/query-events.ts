import { type Msg, type NatsConnection, RequestError, TimeoutError } from "@nats-io/nats-core";
import {
  decodeQueryReply,
  EVENTS_QUERY_SUBJECT,
  type EventsQuery,
  encodeJson,
  type QueryReply,
  type SecurityEvent,
} from "@vigil/shared";

/**
 * Headers a NATS service sets on an error reply. The client reads them directly rather than
 * depending on `@nats-io/services`, whose only other use would be these two names.
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
 * Asks a reader for the events `query` describes and resolves with them, newest first. Rejects
 * with {@link NoAnswerError}, {@link ReaderError} or {@link ReplyError}, or with the connection's
 * own error when it is closed.
 */
export const queryEvents = async (
  nc: NatsConnection,
  query: EventsQuery,
  timeoutMs: number,
): Promise<SecurityEvent[]> => {
  let msg: Msg;
  try {
    msg = await nc.request(EVENTS_QUERY_SUBJECT, encodeJson(query), { timeout: timeoutMs });
  } catch (err) {
    if (err instanceof RequestError && err.isNoResponders()) {
      throw new NoAnswerError("no-reader", `no reader is answering on ${EVENTS_QUERY_SUBJECT}`, { cause: err });
    }
    if (err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError)) {
      throw new NoAnswerError("timeout", `no answer from a reader within ${timeoutMs}ms`, { cause: err });
    }
    throw err;
  }
  const serviceCode = msg.headers?.get(SERVICE_ERROR_CODE_HEADER) ?? "";
  let reply: QueryReply | undefined;
  let problem: unknown;
  try {
    reply = decodeQueryReply(msg.data);
  } catch (err) {
    problem = err;
  }
  if (reply !== undefined && "error" in reply) throw new ReaderError(reply.error.code, reply.error.message);
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
  return reply.events;
};
