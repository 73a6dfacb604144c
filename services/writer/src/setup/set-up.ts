import type { JetStreamManager } from "@nats-io/jetstream";
import { type AuditStreamEnv, ensureAuditStream, type Logger } from "@vigil/runtime";
import { ensureWriterTopology, type WriterTopology } from "../writer.js";

/** Everything of the topology that the set-up owns. */
export interface Topology extends WriterTopology {
  readonly audit: AuditStreamEnv;
}

/**
 * Creates what is missing of the streams (LIVE, EVENTS, DEADLETTERS, AUDIT) and the writers' durable
 * consumer, and corrects what an update can correct; throws, naming the fields, on what it cannot.
 * Running it again changes nothing.
 */
export const setUpTopology = async (jsm: JetStreamManager, topology: Topology, log: Logger): Promise<void> => {
  await ensureWriterTopology(jsm, topology, log);
  await ensureAuditStream(jsm, topology.audit, log);
};
