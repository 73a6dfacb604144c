import { z } from "zod";
import { CRITICALITY_RANGE } from "./limits.js";
import { type DecodedRequest, decodeReply, decodeRequest, type ErrorReply } from "./query.js";

/** Longest window `events.aggregates` answers for: one day, in minutes. */
export const MAX_AGGREGATE_MINUTES = 1_440;

/** Request on `events.aggregates`: figures over the last `minutes` minutes of event time. */
export const AggregatesQuery = z.object({ minutes: z.int().min(1).max(MAX_AGGREGATE_MINUTES) });
export type AggregatesQuery = z.infer<typeof AggregatesQuery>;

/** The criticality levels as the keys of {@link AggregatesReply}'s `byCriticality`: "0" to "10". */
export const CRITICALITY_KEYS = Array.from({ length: CRITICALITY_RANGE.max - CRITICALITY_RANGE.min + 1 }, (_, i) =>
  String(CRITICALITY_RANGE.min + i),
) as [string, ...string[]];

/** Successful reply on `events.aggregates`. */
export const AggregatesReply = z.object({
  /** Start of the window (inclusive), ISO 8601 UTC. */
  from: z.iso.datetime(),
  /** End of the window (exclusive), ISO 8601 UTC: when the reader answered. */
  to: z.iso.datetime(),
  /** Events whose timestamp falls in the window. */
  total: z.int().nonnegative(),
  /** The same count per criticality; every level "0" to "10" is present, 0 when none. */
  byCriticality: z.record(z.enum(CRITICALITY_KEYS), z.int().nonnegative()),
  /** `total` divided by the window's length in seconds. */
  perSecond: z.number().nonnegative(),
});
export type AggregatesReply = z.infer<typeof AggregatesReply>;

/** Decodes and validates an aggregates request. Never throws. */
export const decodeAggregatesQuery = (payload: Uint8Array): DecodedRequest<AggregatesQuery> =>
  decodeRequest(AggregatesQuery, payload, '{"minutes": 60}');

/** Decodes a reply on `events.aggregates`; throws a `ProtocolError` when it is neither shape. */
export const decodeAggregatesReply = (payload: Uint8Array): AggregatesReply | ErrorReply =>
  decodeReply(AggregatesReply, payload);
