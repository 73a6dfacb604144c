import type { NatsConnection } from "@nats-io/nats-core";
import { NoAnswerError, queryAggregates, queryEvents, ReaderError } from "@vigil/runtime";
import type { AggregatesQuery, AggregatesReply, EventsQuery, SecurityEvent } from "@vigil/shared";
import { ApiError } from "./errors.js";

/** Seconds a client is told to wait when no reader can answer. */
const RETRY_AFTER_SECONDS = 2;

/** What the read routes ask the readers over NATS; failures are {@link ApiError}s. */
export interface ReaderQueries {
  events(query: EventsQuery): Promise<SecurityEvent[]>;
  aggregates(query: AggregatesQuery): Promise<AggregatesReply>;
}

/** What {@link createReaderQueries} runs on. */
export interface ReaderQueriesDeps {
  readonly nc: NatsConnection;
  /** Whether the NATS connection is up now: while it is not, the answer is 503 at once. */
  readonly connected: () => boolean;
  /** How long to wait for a reader's reply; keep it above the readers' `READER_QUERY_TIMEOUT`. */
  readonly timeoutMs: number;
}

/** Asks the readers through the same request code as the client (`@vigil/runtime`'s `requestReader`). */
export const createReaderQueries = (deps: ReaderQueriesDeps): ReaderQueries => {
  const ask = async <T>(request: () => Promise<T>): Promise<T> => {
    if (!deps.connected()) throw unavailable("NATS is not reachable");
    try {
      return await request();
    } catch (err) {
      throw toApiError(err);
    }
  };
  return {
    events: (query) => ask(() => queryEvents(deps.nc, query, deps.timeoutMs)),
    aggregates: (query) => ask(() => queryAggregates(deps.nc, query, deps.timeoutMs)),
  };
};

const unavailable = (why: string, cause?: unknown): ApiError =>
  new ApiError("UNAVAILABLE", `${why}; retry later`, { retryAfterSeconds: RETRY_AFTER_SECONDS, cause });

/**
 * A reader's error reply becomes the HTTP code that means the same: its storage or itself being
 * away is a 503, a request it refused is a 400; anything else is the gateway's 500, whose detail
 * stays in the log.
 */
export const toApiError = (err: unknown): ApiError => {
  if (err instanceof NoAnswerError) {
    return unavailable(err.reason === "no-reader" ? "no reader is answering" : "no reader answered in time", err);
  }
  if (err instanceof ReaderError) {
    switch (err.code) {
      case "STORAGE_UNAVAILABLE":
        return unavailable(`the reader cannot answer now (${err.reason})`, err);
      case "BAD_REQUEST":
        return new ApiError("BAD_REQUEST", err.reason, { cause: err });
      case "PAYLOAD_TOO_LARGE":
        return new ApiError("PAYLOAD_TOO_LARGE", err.reason, { cause: err, limit: "replyBytes" });
    }
  }
  // A closed connection, a reply off the contract, an INTERNAL reply.
  return new ApiError("INTERNAL", "the gateway could not get an answer from the reader", { cause: err });
};
