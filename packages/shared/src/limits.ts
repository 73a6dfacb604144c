/** Largest encoded event accepted anywhere in the suite, in bytes. */
export const MAX_EVENT_BYTES = 8 * 1024;

/** Largest `eventMessage`, in Unicode code points. */
export const MAX_EVENT_MESSAGE_LENGTH = 1024;

/** Most events one query may ask for. */
export const MAX_QUERY_LIMIT = 1000;

/** Events returned when a query names no `limit`. */
export const DEFAULT_QUERY_LIMIT = 10;

/** Largest query request accepted by the reader, in bytes. */
export const MAX_QUERY_BYTES = 4 * 1024;

/** Lowest and highest criticality an event may carry. */
export const CRITICALITY_RANGE = { min: 0, max: 10 } as const;

/**
 * Longest reason in a dead-letter record's `Vigil-Reject-Reason` header, in UTF-16 code units: the
 * writer cuts longer ones (zod and InfluxDB messages can be long), and readers of records cut there too.
 */
export const MAX_REASON_CHARS = 512;
