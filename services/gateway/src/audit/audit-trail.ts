import type { JetStreamManager } from "@nats-io/jetstream";
import type { ConfirmedPublish, Logger } from "@vigil/runtime";
import { AUDIT_STREAM, AUDIT_SUBJECT } from "@vigil/shared";
import { z } from "zod";
import { Role } from "../auth/principal.js";

/** How a request ended, as the audit sees it. */
export const AuditOutcome = z.enum(["success", "denied", "rate_limited", "failed"]);
export type AuditOutcome = z.infer<typeof AuditOutcome>;

/**
 * One audit record: who did what to what, how it ended, from where, under which request id.
 * It holds no secret: no password, token, API key or request body.
 */
export const AuditRecord = z.object({
  /** When the answer was sent, ISO 8601. */
  time: z.iso.datetime(),
  /** The user's or API key's name; for a failed sign-in the user name tried; null when unknown. */
  actor: z.string().nullable(),
  role: Role.nullable(),
  /** What was attempted, e.g. `auth.token`, `auth.refresh.reuse`, `events.ingest`, `audit.read`. */
  action: z.string(),
  /** The route (`POST /v1/events`), or the thing acted on where there is one. */
  target: z.string(),
  outcome: AuditOutcome,
  /** The HTTP status answered. */
  status: z.int(),
  /** The error code answered, when the request failed. */
  code: z.string().optional(),
  /** The socket's address (no proxy header is trusted). */
  clientAddress: z.string(),
  requestId: z.string(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

/** Most audit records one `GET /v1/audit` returns. */
export const MAX_AUDIT_LIMIT = 1_000;

/** Writes audit records to the `AUDIT` stream and reads the newest back. */
export interface AuditTrail {
  /** Publishes `record` and waits for JetStream's confirmation in the background; failures are logged. */
  record(record: AuditRecord): void;
  /** The newest `limit` records, newest first. */
  newest(limit: number): Promise<AuditRecord[]>;
  /** Resolves once every record handed to {@link AuditTrail.record} so far is confirmed or has failed. */
  flush(): Promise<void>;
}

/** How many stored records are read at once. */
const READ_CONCURRENCY = 64;

const encoder = new TextEncoder();

/** What {@link createAuditTrail} runs on. */
export interface AuditTrailDeps {
  /**
   * Publishes into the `AUDIT` stream and waits for its acknowledgement: the gateway's one
   * confirmed publisher, which `js.publish` would cost several stack-capturing errors and a timer
   * per record more (BENCHMARKS.md, "Gateway").
   */
  readonly publisher: Pick<ConfirmedPublish, "publish">;
  readonly jsm: JetStreamManager;
  readonly log: Logger;
  readonly timeoutMs: number;
}

export const createAuditTrail = (deps: AuditTrailDeps): AuditTrail => {
  const inFlight = new Set<Promise<void>>();
  const read = async (seq: number): Promise<AuditRecord | undefined> => {
    const stored = await deps.jsm.streams.getMessage(AUDIT_STREAM, { seq }).catch(() => null);
    if (stored === null) return undefined;
    const parsed = AuditRecord.safeParse(stored.json());
    return parsed.success ? parsed.data : undefined;
  };
  return {
    record(record) {
      // No Nats-Msg-Id: a record is never published twice, and two records may share a request id.
      const publishing = deps.publisher
        .publish(AUDIT_SUBJECT, encoder.encode(JSON.stringify(record)), { timeout: deps.timeoutMs })
        .then(
          () => undefined,
          (err: unknown) => deps.log.error({ err, record }, "could not write an audit record"),
        )
        .finally(() => inFlight.delete(publishing));
      inFlight.add(publishing);
    },
    async newest(limit) {
      const { state } = await deps.jsm.streams.info(AUDIT_STREAM);
      const records: AuditRecord[] = [];
      // Sequences from the newest down; a record aged out between the info and the read is skipped.
      let seq = state.last_seq;
      while (records.length < limit && seq >= state.first_seq && seq > 0) {
        const batch: number[] = [];
        for (; batch.length < READ_CONCURRENCY && seq >= state.first_seq && seq > 0; seq--) batch.push(seq);
        for (const found of await Promise.all(batch.map(read))) if (found !== undefined) records.push(found);
      }
      return records.slice(0, limit);
    },
    async flush() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
};
