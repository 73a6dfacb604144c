export type { Batcher, BatchPolicy } from "./batcher.js";
export { createBatcher } from "./batcher.js";
export type { WriterConfig, WriterSettings } from "./config.js";
export { loadConfig, WriterEnv } from "./config.js";
export type { WriterConsumerSettings } from "./consumer.js";
export {
  checkWriterConsumer,
  consumerDrift,
  ensureWriterConsumer,
  WriterConsumerEnv,
  writerConsumerConfig,
  writerConsumerSettings,
} from "./consumer.js";
export type { DeadLetter, DeadLetterCode } from "./dead-letter.js";
export { deadLetterHeaders, deadLetterMsgId, STORAGE_REJECTED } from "./dead-letter.js";
export type { WriterMetrics } from "./metrics.js";
export { createWriterMetrics } from "./metrics.js";
export type { HeldMessage, PendingEvent } from "./pending-event.js";
export type { Topology } from "./setup/set-up.js";
export { setUpTopology } from "./setup/set-up.js";
export type { RetryPolicy } from "./store-batch.js";
export { createBatchStore } from "./store-batch.js";
export type { MessageIntakeDeps, Writer, WriterDeps, WriterTopology } from "./writer.js";
export { createMessageIntake, ensureWriterTopology, startWriter } from "./writer.js";
