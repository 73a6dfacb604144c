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
  /**
   * Publishes `record` (within {@link AUDIT_GATHER_MS}, together with the others handed to it by
   * then) and waits for JetStream's confirmation in the background; failures are logged.
   */
  record(record: AuditRecord): void;
  /** The newest `limit` records, newest first. */
  newest(limit: number): Promise<AuditRecord[]>;
  /**
   * Publishes what is gathered at once and resolves once every record handed to
   * {@link AuditTrail.record} so far is confirmed or has failed.
   */
  flush(): Promise<void>;
}

/**
 * How long a record waits for others before it is published: the records of requests answered
 * within this long share one socket write to NATS (and one read at the server) instead of one each,
 * a sizeable part of what a single-event request costs (BENCHMARKS.md, "Gateway"). A gateway that
 * dies loses at most this long's records more.
 */
export const AUDIT_GATHER_MS = 10;

/** Most records gathered: this many are published at once without waiting. */
export const AUDIT_GATHER_MAX = 256;

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
  /** {@link AUDIT_GATHER_MS} unless given; 0 publishes each record at once. */
  readonly gatherMs?: number;
}

export const createAuditTrail = (deps: AuditTrailDeps): AuditTrail => {
  const inFlight = new Set<Promise<void>>();
  const gatherMs = deps.gatherMs ?? AUDIT_GATHER_MS;
  let gathered: AuditRecord[] = [];
  let gathering: NodeJS.Timeout | undefined;
  const publish = (record: AuditRecord): void => {
    // No Nats-Msg-Id: a record is never published twice, and two records may share a request id.
    const publishing = deps.publisher
      .publish(AUDIT_SUBJECT, encoder.encode(JSON.stringify(record)), { timeout: deps.timeoutMs })
      .then(
        () => undefined,
        (err: unknown) => deps.log.error({ err, record }, "could not write an audit record"),
      )
      .finally(() => inFlight.delete(publishing));
    inFlight.add(publishing);
  };
  /** Publishes what was gathered, all in this turn, so that the NATS client writes it at once. */
  const publishGathered = (): void => {
    clearTimeout(gathering);
    gathering = undefined;
    const records = gathered;
    gathered = [];
    for (const record of records) publish(record);
  };
  const read = async (seq: number): Promise<AuditRecord | undefined> => {
    const stored = await deps.jsm.streams.getMessage(AUDIT_STREAM, { seq }).catch(() => null);
    if (stored === null) return undefined;
    const parsed = AuditRecord.safeParse(stored.json());
    return parsed.success ? parsed.data : undefined;
  };
  return {
    record(record) {
      if (gatherMs === 0) return publish(record);
      gathered.push(record);
      if (gathered.length >= AUDIT_GATHER_MAX) publishGathered();
      else gathering ??= setTimeout(publishGathered, gatherMs);
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
      publishGathered();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
};
