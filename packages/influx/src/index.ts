export type { InfluxAuth, InfluxClient, InfluxConfig, QueryParam, QuerySeries } from "./client.js";
export { createInfluxClient } from "./client.js";
export { InfluxEnv, influxConfigFromEnv } from "./env.js";
export { InfluxRejectedError, InfluxUnavailableError } from "./errors.js";
export type { BoundStatement, SequencedEvent } from "./events-layout.js";
export {
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
