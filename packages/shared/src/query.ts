import { z } from "zod";
import type { AggregatesQuery, AggregatesReply } from "./aggregates.js";
import { describeIssues, SecurityEvent } from "./event.js";
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_BYTES, MAX_QUERY_LIMIT } from "./limits.js";

/** Request on `events.query`: the newest `limit` events with criticality strictly above `minCriticality`. */
export const EventsQuery = z.object({
  limit: z.int().min(1).max(MAX_QUERY_LIMIT).default(DEFAULT_QUERY_LIMIT),
  minCriticality: z.int(),
});
export type EventsQuery = z.infer<typeof EventsQuery>;

/** Successful reply on `events.query`, newest event first. */
export const EventsQueryReply = z.object({ events: z.array(SecurityEvent) });
export type EventsQueryReply = z.infer<typeof EventsQueryReply>;

/** Error codes an `events.query` reply may carry, each with the NATS service error code sent alongside. */
export const QUERY_ERROR_CODES = {
  BAD_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  STORAGE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

/** One of the {@link QUERY_ERROR_CODES} names. */
export const QueryErrorCode = z.enum(
  Object.keys(QUERY_ERROR_CODES) as [keyof typeof QUERY_ERROR_CODES, ...(keyof typeof QUERY_ERROR_CODES)[]],
);
export type QueryErrorCode = z.infer<typeof QueryErrorCode>;

/** Error reply on `events.query`; also flagged by the `Nats-Service-Error` headers. */
export const ErrorReply = z.object({
  error: z.object({ code: QueryErrorCode, message: z.string() }),
});
export type ErrorReply = z.infer<typeof ErrorReply>;

/** Any reply a client may receive on `events.query`. */
export const QueryReply = z.union([EventsQueryReply, ErrorReply]);
export type QueryReply = z.infer<typeof QueryReply>;

/** Outcome of decoding a query request: the query, or the error reply to send back. */
export type DecodedQuery =
  | { readonly ok: true; readonly query: EventsQuery }
  | { readonly ok: false; readonly error: ErrorReply };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Serialises a request to the reader (a query's `limit` may be left to the default) or its reply to JSON bytes. */
export const encodeJson = (
  value: z.input<typeof EventsQuery> | QueryReply | AggregatesQuery | AggregatesReply,
): Uint8Array => encoder.encode(JSON.stringify(value));

/** Builds an error reply. */
export const errorReply = (code: QueryErrorCode, message: string): ErrorReply => ({ error: { code, message } });

/** Outcome of decoding a request on one of the reader's subjects: the request, or the error reply to send back. */
export type DecodedRequest<T> =
  | { readonly ok: true; readonly request: T }
  | { readonly ok: false; readonly error: ErrorReply };

/**
 * Decodes and validates a request on one of the reader's subjects against `schema`; `example` is
 * the JSON an empty request is told to send. Never throws.
 */
export const decodeRequest = <S extends z.ZodType>(
  schema: S,
  payload: Uint8Array,
  example: string,
  maxBytes: number = MAX_QUERY_BYTES,
): DecodedRequest<z.output<S>> => {
  if (payload.byteLength > maxBytes) {
    return {
      ok: false,
      error: errorReply("PAYLOAD_TOO_LARGE", `request is ${payload.byteLength} bytes, the limit is ${maxBytes}`),
    };
  }
  if (payload.byteLength === 0) {
    return { ok: false, error: errorReply("BAD_REQUEST", `request is empty: send JSON such as ${example}`) };
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(payload));
  } catch (err) {
    return { ok: false, error: errorReply("BAD_REQUEST", `request is not JSON: ${(err as Error).message}`) };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, error: errorReply("BAD_REQUEST", describeIssues(parsed.error)) };
  return { ok: true, request: parsed.data };
};

/** Decodes and validates a query request. Never throws. */
export const decodeQuery = (payload: Uint8Array, maxBytes: number = MAX_QUERY_BYTES): DecodedQuery => {
  const decoded = decodeRequest(EventsQuery, payload, '{"minCriticality": 5, "limit": 10}', maxBytes);
  return decoded.ok ? { ok: true, query: decoded.request } : decoded;
};

/**
 * Decodes a reply on one of the reader's subjects: the success shape `schema`, or an error reply.
 * Throws a {@link ProtocolError} when it is neither.
 */
export const decodeReply = <S extends z.ZodType>(schema: S, payload: Uint8Array): z.output<S> | ErrorReply => {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(payload));
  } catch (err) {
    throw new ProtocolError("reply is not JSON", { cause: err });
  }
  const parsed = z.union([schema, ErrorReply]).safeParse(json);
  if (!parsed.success) throw new ProtocolError(`reply has an unknown shape: ${describeIssues(parsed.error)}`);
  return parsed.data as z.output<S> | ErrorReply;
};

/** Decodes a reply on `events.query`; throws a {@link ProtocolError} when it is neither shape. */
export const decodeQueryReply = (payload: Uint8Array): QueryReply => decodeReply(EventsQueryReply, payload);

/** A peer sent something that does not follow the contract. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}
