/** NATS subject on which producers publish one JSON {@link SecurityEvent} per message. */
export const EVENTS_SUBJECT = "events";

/** NATS subject on which the reader answers {@link EventsQuery} requests. */
export const EVENTS_QUERY_SUBJECT = "events.query";

/** NATS subject on which the reader answers {@link AggregatesQuery} requests: counts per criticality over a window. */
export const EVENTS_AGGREGATES_SUBJECT = "events.aggregates";

/** Subject that carries events the writer could never store, with the reason in headers. */
export const DEAD_LETTER_SUBJECT = "deadletters.events";

/** JetStream stream that captures {@link EVENTS_SUBJECT} until every consumer has taken it. */
export const EVENTS_STREAM = "EVENTS";

/**
 * Subject on which {@link EVENTS_STREAM} republishes every event it stored (JetStream `republish`),
 * for the live tail; {@link LIVE_STREAM} captures it.
 */
export const LIVE_SUBJECT = "live.events";

/**
 * JetStream stream that keeps the most recent events republished on {@link LIVE_SUBJECT}: the live
 * tail's history. Its stream sequence is the live tail's cursor, the same on every gateway.
 */
export const LIVE_STREAM = "LIVE";

/**
 * Name prefixes of the gateways' ordered consumers on {@link LIVE_STREAM}: one shared feed per
 * gateway, and one replay per resuming client while it catches up (a random part and a serial
 * follow, e.g. `vigil_live_feed_3fa9c2e1d0b4_1`).
 */
export const LIVE_CONSUMER_PREFIXES = { feed: "vigil_live_feed", replay: "vigil_live_replay" } as const;

/** JetStream stream that keeps dead-letter records for inspection and replay. */
export const DEAD_LETTER_STREAM = "DEADLETTERS";

/** Durable consumer shared by every writer instance; scaling out means more pullers on it. */
export const WRITER_CONSUMER = "writer";

/** Name under which the reader registers as a NATS service (`$SRV.PING.vigil-reader`). */
export const READER_SERVICE = "vigil-reader";

/** Queue group in which every reader instance listens, so each request reaches exactly one. */
export const READER_QUEUE = "vigil-reader";

/** Headers that a dead-letter record carries next to the original payload. */
export const DEAD_LETTER_HEADERS = {
  /** Machine-readable reason code, one of {@link EventRejection} codes. */
  code: "Vigil-Reject-Code",
  /** Human-readable reason, single line. */
  reason: "Vigil-Reject-Reason",
  /** Subject the payload was first published on. */
  subject: "Vigil-Original-Subject",
  /** Sequence of the payload in {@link EVENTS_STREAM}. */
  streamSequence: "Vigil-Original-Sequence",
  /** When the writer rejected it, ISO 8601. */
  rejectedAt: "Vigil-Rejected-At",
  /**
   * Present only when the record carries the first bytes of the payload rather than all of it
   * (the payload and the headers would not fit in one NATS message): the payload's full size.
   */
  originalBytes: "Vigil-Original-Bytes",
} as const;

/** JetStream key-value bucket where the gateways keep refresh-token families, shared by every instance. */
export const GATEWAY_REFRESH_BUCKET = "vigil-gateway-refresh";

/** JetStream stream of the gateway's audit records. */
export const AUDIT_STREAM = "AUDIT";

/** Subject of the gateway's audit records, captured by {@link AUDIT_STREAM}. */
export const AUDIT_SUBJECT = "audit.gateway";

/** JetStream key-value bucket of the gateways' rate-limit counters, one key per caller and minute. */
export const GATEWAY_RATE_BUCKET = "vigil-gateway-rate";
