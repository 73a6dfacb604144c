export { backoffDelay, sleep } from "./delay.js";
export { parseEnv } from "./env.js";
export { ConfigError, StartupError } from "./errors.js";
export type { ServiceLifecycle } from "./lifecycle.js";
export { runService } from "./lifecycle.js";
export type { Logger } from "./logger.js";
export { createLogger, LogLevel } from "./logger.js";
export { connectNats, NATS_SECRETS, NatsEnv, natsOptionsFromEnv } from "./nats.js";
export type { OpsServer, ReadinessCheck } from "./ops-server.js";
export { createMetricsRegistry, OpsEnv, startOpsServer } from "./ops-server.js";
export {
  deadLetterStreamConfig,
  ensureDeadLetterStream,
  ensureEventsStream,
  eventsStreamConfig,
  isJetStreamError,
  StreamEnv,
} from "./topology.js";
export { boolVar, bytesVar, durationVar, intVar, parseBytes, parseDuration } from "./units.js";
