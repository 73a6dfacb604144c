import { setImmediate as turn } from "node:timers/promises";
import type { JetStreamManager, PubAck } from "@nats-io/jetstream";
import { deferred } from "@nats-io/nats-core";
import type { ConfirmedPublish, ConfirmedPublishOptions } from "@vigil/runtime";
import { AUDIT_SUBJECT } from "@vigil/shared";
import { createLogSink, waitFor } from "@vigil/testing";
import { describe, expect, it } from "vitest";
import { AUDIT_GATHER_MAX, AUDIT_GATHER_MS, type AuditRecord, createAuditTrail } from "./audit-trail.js";

const record = (requestId: string): AuditRecord => ({
  time: "2026-12-02T10:00:00.000Z",
  actor: "sensor-7",
  role: "producer",
  action: "events.ingest",
  target: "POST /v1/events",
  outcome: "success",
  status: 202,
  clientAddress: "127.0.0.1",
  requestId,
});

/** A publisher whose acknowledgements the test gives, one publish at a time, in order. */
const heldPublisher = () => {
  const sent: {
    subject: string;
    payload: string;
    options: ConfirmedPublishOptions;
    ack: ReturnType<typeof deferred<PubAck>>;
  }[] = [];
  const publisher: Pick<ConfirmedPublish, "publish"> = {
    publish(subject, payload, options) {
      const ack = deferred<PubAck>();
      sent.push({ subject, payload: new TextDecoder().decode(payload), options, ack });
      return ack;
    },
  };
  return { publisher, sent };
};

/** A trail on `publisher`; records are published at once unless `gatherMs` says otherwise. */
const trailOn = (publisher: Pick<ConfirmedPublish, "publish">, gatherMs = 0) => {
  const logs = createLogSink("info");
  const audit = createAuditTrail({ publisher, jsm: {} as JetStreamManager, log: logs.log, timeoutMs: 1_234, gatherMs });
  return { audit, logs };
};

describe("the audit trail", () => {
  it("publishes each record as JSON on the audit subject with its timeout and no message id", () => {
    const { publisher, sent } = heldPublisher();
    const { audit } = trailOn(publisher);
    audit.record(record("req-1"));
    // Two requests may carry the same client-given request id: neither record may be dropped as a duplicate.
    audit.record(record("req-1"));
    expect(sent.map(({ subject, payload, options }) => ({ subject, record: JSON.parse(payload), options }))).toEqual([
      { subject: AUDIT_SUBJECT, record: record("req-1"), options: { timeout: 1_234 } },
      { subject: AUDIT_SUBJECT, record: record("req-1"), options: { timeout: 1_234 } },
    ]);
  });

  it("gathers records for AUDIT_GATHER_MS and publishes them together, in one turn", async () => {
    const { publisher, sent } = heldPublisher();
    // Each publish notes how many microtasks ran before it: the same number for all means one synchronous run.
    const runs: number[] = [];
    let microtasks = 0;
    const { audit } = trailOn(
      {
        publish(subject, payload, options) {
          runs.push(microtasks);
          queueMicrotask(() => microtasks++);
          return publisher.publish(subject, payload, options);
        },
      },
      AUDIT_GATHER_MS,
    );
    audit.record(record("req-1"));
    await turn();
    audit.record(record("req-2"));
    audit.record(record("req-3"));
    expect(sent).toHaveLength(0);
    await waitFor("the gathered records published", () => sent.length === 3, 5_000, 1);
    expect(new Set(runs).size).toBe(1);
    expect(sent.map(({ payload }) => JSON.parse(payload).requestId)).toEqual(["req-1", "req-2", "req-3"]);
  });

  it("publishes AUDIT_GATHER_MAX gathered records at once, and what is gathered when flushed", async () => {
    const { publisher, sent } = heldPublisher();
    const { audit } = trailOn(publisher, 60_000);
    for (let n = 0; n < AUDIT_GATHER_MAX + 1; n++) audit.record(record(`req-${n}`));
    expect(sent).toHaveLength(AUDIT_GATHER_MAX);
    const flushing = audit.flush();
    expect(sent).toHaveLength(AUDIT_GATHER_MAX + 1);
    for (const { ack } of sent) ack.resolve({ stream: "AUDIT", seq: 1, duplicate: false });
    await flushing;
  });

  it("flushes only once every record handed to it is confirmed or has failed", async () => {
    const { publisher, sent } = heldPublisher();
    const { audit } = trailOn(publisher);
    audit.record(record("req-1"));
    audit.record(record("req-2"));
    let flushed = false;
    const flushing = audit.flush().then(() => {
      flushed = true;
    });
    sent[0]?.ack.resolve({ stream: "AUDIT", seq: 1, duplicate: false });
    await turn();
    expect(flushed).toBe(false);
    sent[1]?.ack.reject(new Error("timeout"));
    await flushing;
    expect(flushed).toBe(true);
  });

  it("logs a record it could not write, with the record, and goes on", async () => {
    const { publisher, sent } = heldPublisher();
    const { audit, logs } = trailOn(publisher);
    audit.record(record("req-lost"));
    sent[0]?.ack.reject(new Error("no responders"));
    audit.record(record("req-kept"));
    sent[1]?.ack.resolve({ stream: "AUDIT", seq: 2, duplicate: false });
    await audit.flush();
    const failures = logs.withMessage("could not write an audit record");
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      level: "error",
      record: { requestId: "req-lost" },
      err: { message: "no responders" },
    });
  });
});
