import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  createLogger,
  DeadLetterStreamEnv,
  EventsStreamEnv,
  ensureDeadLetterStream,
  ensureEventsStream,
} from "@vigil/runtime";
import { DEAD_LETTER_SUBJECT, EVENTS_STREAM, EVENTS_SUBJECT, WRITER_CONSUMER } from "@vigil/shared";
import { type NatsServer, startNatsServer, waitFor } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPipelineStats, readPipeline } from "./pipeline-stats.js";

const log = createLogger("gateway-stats-test", "silent");

describe("the pipeline figures from a real JetStream", () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  it("reads received, stored, dead-lettered, backlog, in flight and waiting writers", async () => {
    const jsm = await jetstreamManager(nc);
    const stats = createPipelineStats({ read: () => readPipeline(jsm), connected: () => true });
    await expect(stats.read()).rejects.toMatchObject({ code: "UNAVAILABLE" });

    await ensureEventsStream(jsm, EventsStreamEnv.parse({}), log);
    expect(await stats.read()).toMatchObject({ received: 0, stored: 0, deadLettered: 0, backlog: 0, activeWriters: 0 });

    const js = jetstream(nc);
    for (let i = 0; i < 6; i++) await js.publish(EVENTS_SUBJECT, `{"n":${i}}`, { msgID: `m${i}` });
    await js.publish(EVENTS_SUBJECT, "{}", { msgID: "m0" }); // a duplicate: not received twice
    await ensureDeadLetterStream(jsm, DeadLetterStreamEnv.parse({}), log);
    await jsm.consumers.add(EVENTS_STREAM, { durable_name: WRITER_CONSUMER, ack_policy: AckPolicy.Explicit });
    const writer = await js.consumers.get(EVENTS_STREAM, WRITER_CONSUMER);
    // Three written, one dead-lettered, one delivered and not yet acknowledged, one still waiting.
    const taken = await writer.fetch({ max_messages: 5, expires: 5_000 });
    let n = 0;
    for await (const msg of taken) {
      n++;
      if (n <= 3) await msg.ackAck();
      if (n === 4) {
        await js.publish(DEAD_LETTER_SUBJECT, msg.data);
        await msg.ackAck();
      }
    }
    const figures = await stats.read();
    expect(figures).toMatchObject({ received: 6, stored: 3, deadLettered: 1, backlog: 2, inFlight: 1 });

    // A writer waiting for events keeps a pull request open on the consumer.
    const other = await connect({ servers: nats.url });
    const waiting = await (await jetstream(other).consumers.get(EVENTS_STREAM, WRITER_CONSUMER)).fetch({
      max_messages: 100,
      expires: 30_000,
    });
    const draining = (async () => {
      for await (const msg of waiting) msg.ack();
    })();
    await waitFor("the pull request to reach the server", async () => (await stats.read()).activeWriters === 1);
    waiting.stop();
    await draining;
    await other.close();
  });
});
