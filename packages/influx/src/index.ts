export type { InfluxAuth, InfluxClient, InfluxConfig, QueryOptions, QueryParam, QuerySeries } from "./client.js";
export { authorizationHeader, createInfluxClient } from "./client.js";
export { InfluxEnv, influxConfigFromEnv } from "./env.js";
export { InfluxRejectedError, InfluxResponseTooLargeError, InfluxUnavailableError } from "./errors.js";
export type { BoundStatement, SequencedEvent } from "./events-layout.js";
export {
  ANSWER_BYTES_PER_EVENT,
  answerBytesBound,
  countByCriticalityStatement,
  decodeCountRows,
  decodeEventRows,
  EVENTS_MEASUREMENT,
  encodePoint,
  encodePoints,
  latestEventsStatement,
  pointTime,
  SEQUENCE_BLOCK_TAG,
} from "./events-layout.js";
export type { HealthLog, InfluxHealth, InfluxHealthMessages } from "./health.js";
export { createInfluxHealth } from "./health.js";
export type { InfluxWatch, WatchLog } from "./watch.js";
export { watchInflux } from "./watch.js";
