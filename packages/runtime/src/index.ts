export type { Coalescer } from "./coalesce.js";
export { createCoalescer } from "./coalesce.js";
export type { CommandLine, CommandLineRules, FlagSpec } from "./command-line.js";
export { readCommandLine } from "./command-line.js";
export type { ConfirmedPublish, ConfirmedPublishOptions, ConfirmedPublishSettings } from "./confirmed-publish.js";
export { confirmedPublishOver, createConfirmedPublish } from "./confirmed-publish.js";
export { backoffDelay, sleep, untilAborted } from "./delay.js";
export { parseEnv } from "./env.js";
export { ConfigError, StartupError, UsageError } from "./errors.js";
export type { InboxRequestOptions, InboxRequests, InboxRequestsSettings } from "./inbox-requests.js";
export { createInboxRequests, InboxRequestsClosedError } from "./inbox-requests.js";
export type { ServiceHost, ServiceLifecycle } from "./lifecycle.js";
export { failStartup, loadConfigOrExit, runService } from "./lifecycle.js";
export type { Logger } from "./logger.js";
export { createLogger, LogLevel } from "./logger.js";
export { connectNats, NATS_SECRETS, NatsEnv, natsOptionsFromEnv } from "./nats.js";
export type { OpsEnv, OpsServer, ReadinessCheck } from "./ops-server.js";
export { createMetricsRegistry, DEFAULT_OPS_PORTS, opsEnv, startOpsServer } from "./ops-server.js";
export {
  NoAnswerError,
  queryAggregates,
  queryEvents,
  ReaderError,
  ReplyError,
  requestReader,
} from "./reader-requests.js";
export type { StreamsAccess } from "./streams-access.js";
export { CREATE_TOPOLOGY_FIRST, StreamsAccessEnv, streamsAccess, streamsJetStream } from "./streams-access.js";
export { printable, truncate } from "./terminal-text.js";
export type { Drift } from "./topology.js";
export {
  AuditStreamEnv,
  auditStreamConfig,
  checkEventsStream,
  checkLiveStream,
  checkStream,
  DeadLetterStreamEnv,
  deadLetterStreamConfig,
  describeDrift,
  EventsStreamEnv,
  ensureAuditStream,
  ensureDeadLetterStream,
  ensureEventsStream,
  ensureLiveStream,
  eventsStreamConfig,
  isJetStreamError,
  isPermissionError,
  LiveStreamEnv,
  liveStreamConfig,
  StreamEnv,
  streamDrift,
  streamLimits,
} from "./topology.js";
export { bytesVar, durationVar, intVar, parseBytes, parseDuration } from "./units.js";
