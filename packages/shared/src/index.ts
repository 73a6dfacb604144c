export {
  AggregatesQuery,
  AggregatesReply,
  CRITICALITY_KEYS,
  decodeAggregatesQuery,
  decodeAggregatesReply,
  MAX_AGGREGATE_MINUTES,
} from "./aggregates.js";
export { readDigits } from "./digits.js";
export type { DecodedEvent, EventRejection } from "./event.js";
export {
  checkSecurityEvent,
  decodeEvent,
  describeIssues,
  EventRejectionCode,
  encodeEvent,
  SecurityEvent,
  timestampMillis,
} from "./event.js";
export {
  CRITICALITY_RANGE,
  DEFAULT_QUERY_LIMIT,
  MAX_EVENT_BYTES,
  MAX_EVENT_MESSAGE_LENGTH,
  MAX_QUERY_BYTES,
  MAX_QUERY_LIMIT,
  MAX_REASON_CHARS,
} from "./limits.js";
export {
  AUDIT_STREAM,
  AUDIT_SUBJECT,
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECT,
  EVENTS_AGGREGATES_SUBJECT,
  EVENTS_QUERY_SUBJECT,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  GATEWAY_RATE_BUCKET,
  GATEWAY_REFRESH_BUCKET,
  LIVE_CONSUMER_PREFIXES,
  LIVE_STREAM,
  LIVE_SUBJECT,
  READER_QUEUE,
  READER_SERVICE,
  WRITER_CONSUMER,
} from "./names.js";
export type { DecodedQuery, DecodedRequest } from "./query.js";
export {
  decodeQuery,
  decodeQueryReply,
  decodeReply,
  decodeRequest,
  ErrorReply,
  EventsQuery,
  EventsQueryReply,
  encodeJson,
  errorReply,
  ProtocolError,
  QUERY_ERROR_CODES,
  QueryErrorCode,
  QueryReply,
} from "./query.js";
