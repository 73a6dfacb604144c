export type { DaemonConfig } from "./config.js";
export { DaemonEnv, loadConfig } from "./config.js";
export type { ParsedWeights } from "./criticality.js";
export {
  CRITICALITY_LEVELS,
  createCriticalitySampler,
  DEFAULT_CRITICALITY_WEIGHTS,
  parseCriticalityWeights,
} from "./criticality.js";
export type { EventGeneratorOptions, IdentifiedEvent, RandomSource } from "./event-generator.js";
export { createEventGenerator } from "./event-generator.js";
export { createPublishLatency, exposePublisherStats } from "./metrics.js";
export type {
  FailureReason,
  LatencyObserver,
  Publisher,
  PublisherDeps,
  PublisherSettings,
  PublisherStats,
} from "./publisher.js";
export { classifyFailure, startPublisher } from "./publisher.js";
export type { TokenBucket } from "./token-bucket.js";
export { createTokenBucket } from "./token-bucket.js";
