import { setImmediate as turn } from "node:timers/promises";
import type { JetStreamManager, PubAck } from "@nats-io/jetstream";
import { deferred } from "@nats-io/nats-core";
import type { ConfirmedPublish, ConfirmedPublishOptions } from "@vigil/runtime";
import { AUDIT_SUBJECT } from "@vigil/shared";
import { createLogSink } from "@vigil/testing";
import { describe, expect, it } from "vitest";
import { type AuditRecord, createAuditTrail } from "./audit-trail.js";

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

const trailOn = (publisher: Pick<ConfirmedPublish, "publish">) => {
  const logs = createLogSink("info");
  const audit = createAuditTrail({ publisher, jsm: {} as JetStreamManager, log: logs.log, timeoutMs: 1_234 });
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
