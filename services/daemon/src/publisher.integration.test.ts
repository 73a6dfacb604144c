import { AckPolicy, jetstream, jetstreamManager, type PubAck } from "@nats-io/jetstream";
import { type NatsConnection, TimeoutError } from "@nats-io/nats-core";
import { connectNats, createConfirmedPublish, createLogger, EventsStreamEnv, ensureEventsStream } from "@vigil/runtime";
import {
  decodeEvent,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  encodeEvent,
  type SecurityEvent,
  WRITER_CONSUMER,
} from "@vigil/shared";
import { type NatsServer, readStreamPayloads, removeStreams, startNatsServer, waitFor } from "@vigil/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { createEventGenerator } from "./event-generator.js";
import { classifyFailure, type PublisherDeps, type PublisherSettings, startPublisher } from "./publisher.js";

const log = createLogger("daemon-test", "silent");
const settings: PublisherSettings = {
  ratePerSecond: 0,
  maxInFlight: 100,
  publishTimeoutMs: 1_000,
  retryInitialMs: 20,
  retryMaxMs: 200,
  burstMs: 10,
};
// Each test publishes under a source of its own and counts only those events: the streams are
// deleted and made again between tests, and a publish from an earlier test that the server takes
// after that (a retry still on the wire) would otherwise be counted as this test's.
let tests = 0;
let source = "";
const WEIGHTS = [5, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1];
let nextEvent = createEventGenerator({ weights: WEIGHTS, source: "daemon-test" });
beforeEach(() => {
  source = `daemon-test-${++tests}`;
  nextEvent = createEventGenerator({ weights: WEIGHTS, source });
});

/** This test's events in the events stream, oldest first. */
const readOwnEvents = async (nc: NatsConnection): Promise<SecurityEvent[]> =>
  (await readStream(nc)).filter((event) => event.source === source);

/** Every event in the events stream, oldest first. */
const readStream = async (nc: NatsConnection): Promise<SecurityEvent[]> =>
  (await readStreamPayloads(nc, EVENTS_STREAM)).map((payload) => {
    const decoded = decodeEvent(payload);
    if (!decoded.ok) throw new Error(`stream holds an invalid event: ${decoded.rejection.reason}`);
    return decoded.event;
  });

describe("publishing into the events stream", () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  /** Recreates the stream with `env` on top of the defaults, as the daemon does. */
  const freshTopology = async (env: Record<string, string> = {}) => {
    const jsm = await jetstreamManager(nc);
    await removeStreams(jsm, EVENTS_STREAM);
    await ensureEventsStream(jsm, EventsStreamEnv.parse(env), log);
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connectNats(loadConfig({ NATS_URL: nats.url }).nats, "daemon-test", log);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
  });
  beforeEach(() => freshTopology());

  describe.each([
    ["createConfirmedPublish", (c: NatsConnection) => createConfirmedPublish(c)],
    ["jetstream(nc)", (c: NatsConnection) => jetstream(c)],
  ] as const)("through %s", (_label, client) => {
    it("stores exactly maxEvents valid events with distinct ids", async () => {
      const confirmedIds: string[] = [];
      const publisher = startPublisher(
        { js: client(nc), nextEvent, log, onConfirmed: (event) => confirmedIds.push(event.id) },
        { ...settings, maxEvents: 2_000 },
      );
      await publisher.completed;
      const final = await publisher.stop(5_000);
      expect(final).toMatchObject({ published: 2_000, confirmed: 2_000, inFlight: 0 });
      const stored = await readOwnEvents(nc);
      expect(stored).toHaveLength(2_000);
      expect(new Set(stored.map((event) => event.id)).size).toBe(2_000);
      expect(new Set(stored.map((event) => event.id))).toEqual(new Set(confirmedIds));
    });

    it("stores a publish repeated with the same msgID once and says it was a duplicate", async () => {
      const js = client(nc);
      const event = nextEvent();
      const first = await js.publish(EVENTS_SUBJECT, encodeEvent(event), { msgID: event.id, timeout: 5_000 });
      const second = await js.publish(EVENTS_SUBJECT, encodeEvent(event), { msgID: event.id, timeout: 5_000 });
      expect(first.duplicate).toBe(false);
      expect(second).toMatchObject({ duplicate: true, seq: first.seq, stream: EVENTS_STREAM });
      expect((await readOwnEvents(nc)).map((e) => e.id)).toEqual([event.id]);
    });
  });

  it("retries an event whose confirmation was lost, and the stream keeps it once", async () => {
    const confirmed = createConfirmedPublish(nc);
    let lost = 0;
    // The stream stores every fifth event but its confirmation never arrives, as when a reply is lost.
    const lossy: PublisherDeps["js"] = {
      async publish(subject, payload, options) {
        const ack: PubAck = await confirmed.publish(subject, payload, options);
        if (!ack.duplicate && ack.seq % 5 === 0) {
          lost++;
          throw new TimeoutError();
        }
        return ack;
      },
    };
    const publisher = startPublisher({ js: lossy, nextEvent, log }, { ...settings, maxEvents: 500 });
    await publisher.completed;
    const final = await publisher.stop(5_000);
    confirmed.close();
    expect(lost).toBe(100);
    expect(final).toMatchObject({ published: 500, confirmed: 500, duplicates: 100, inFlight: 0 });
    expect(final.failures.timeout).toBe(100);
    const stored = await readOwnEvents(nc);
    expect(stored).toHaveLength(500);
    expect(new Set(stored.map((event) => event.id)).size).toBe(500);
  });

  it("when the stream is full holds at most maxInFlight events, counts the refusals, and loses none", async () => {
    await freshTopology({ EVENTS_MAX_MSGS: "1000" });
    const js = createConfirmedPublish(nc);
    const publisher = startPublisher({ js, nextEvent, log }, { ...settings, maxInFlight: 50, retryMaxMs: 50 });
    await waitFor("the stream to fill and refusals to pile up", () => {
      const stats = publisher.stats();
      return stats.inFlight === 50 && stats.failures.stream_full >= 200;
    });
    const full = publisher.stats();
    expect(full).toMatchObject({ confirmed: 1_000, published: 1_050, streamFull: true });
    // More refusals, yet not one event more taken on: the publisher waits instead of buffering.
    await waitFor("further refusals", () => publisher.stats().failures.stream_full >= full.failures.stream_full + 200);
    expect(publisher.stats()).toMatchObject({ published: 1_050, confirmed: 1_000, inFlight: 50 });

    // A writer takes 300 events off the stream; the held events then go in and nothing is dropped.
    // The writer creates its consumer when it starts (the daemon does not); here the test does.
    await (await jetstreamManager(nc)).consumers.add(EVENTS_STREAM, {
      durable_name: WRITER_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      filter_subject: EVENTS_SUBJECT,
    });
    const writer = await jetstream(nc).consumers.get(EVENTS_STREAM, WRITER_CONSUMER);
    const taken = await writer.fetch({ max_messages: 300, expires: 5_000 });
    let acked = 0;
    for await (const msg of taken) {
      msg.ack();
      if (++acked === 300) break;
    }
    await nc.flush();
    const final = await publisher.stop(10_000);
    js.close();
    expect(final.inFlight).toBe(0);
    expect(final.confirmed).toBe(final.published);
    const stored = await readOwnEvents(nc);
    expect(stored.length + acked).toBe(final.confirmed);
  });

  it("after nats-server restarts holds every confirmed event exactly once", async () => {
    const js = createConfirmedPublish(nc);
    const confirmedIds: string[] = [];
    const publisher = startPublisher(
      { js, nextEvent, log, onConfirmed: (event) => confirmedIds.push(event.id) },
      { ...settings, ratePerSecond: 2_000 },
    );
    await waitFor("confirmations before the restart", () => publisher.stats().confirmed >= 500);
    await nats.stop();
    await waitFor("publishes to fail", () => {
      const { failures } = publisher.stats();
      return failures.timeout + failures.unavailable > 0;
    });
    const before = publisher.stats().confirmed;
    await nats.start();
    await waitFor("confirmations after the restart", () => publisher.stats().confirmed >= before + 500, 30_000);
    const final = await publisher.stop(20_000);
    js.close();
    expect(final.inFlight).toBe(0);
    expect(final.confirmed).toBe(final.published);
    const storedIds = (await readOwnEvents(nc)).map((event) => event.id);
    expect(storedIds).toHaveLength(confirmedIds.length);
    expect(new Set(storedIds)).toEqual(new Set(confirmedIds));
  });

  it("fails a publish at once, as unavailable, when no stream takes the subject", async () => {
    const js = createConfirmedPublish(nc);
    const attempt = js.publish("no.stream.here", new Uint8Array([1]), { msgID: "x", timeout: 5_000 });
    const err = await attempt.catch((e: unknown) => e);
    js.close();
    expect(classifyFailure(err)).toBe("unavailable");
    expect((err as Error).name).toMatch(/NoResponders/);
  });

  it("fails the publishes still waiting when closed", async () => {
    const js = createConfirmedPublish(nc);
    const event = nextEvent();
    const attempt = js.publish(EVENTS_SUBJECT, encodeEvent(event), { msgID: event.id, timeout: 5_000 });
    js.close();
    await expect(attempt).rejects.toThrow(/closed/);
  });
});

describe("publishing as a user confined to its own inboxes", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let daemon: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer({
      config: `authorization {
        users: [
          { user: admin, password: admin-secret }
          { user: daemon, password: daemon-secret, permissions: {
              publish: ["${EVENTS_SUBJECT}", "$JS.API.>"], subscribe: ["_INBOX_daemon.>"] } }
        ]
      }`,
      probeAuth: { user: "admin", pass: "admin-secret" },
    });
    const env = { NATS_URL: nats.url, NATS_USER: "admin", NATS_PASSWORD: "admin-secret" };
    admin = await connectNats(loadConfig(env).nats, "daemon-test-admin", log);
    await ensureEventsStream(await jetstreamManager(admin), EventsStreamEnv.parse({}), log);
    daemon = await connectNats(
      loadConfig({ ...env, NATS_USER: "daemon", NATS_PASSWORD: "daemon-secret", NATS_INBOX_PREFIX: "_INBOX_daemon" })
        .nats,
      "daemon-test",
      log,
    );
  });
  afterAll(async () => {
    await daemon?.close();
    await admin?.close();
    await nats?.dispose();
  });

  it("gets its confirmations on the inbox prefix it is allowed", async () => {
    const js = createConfirmedPublish(daemon, { inboxPrefix: "_INBOX_daemon" });
    const publisher = startPublisher({ js, nextEvent, log }, { ...settings, maxEvents: 50 });
    await publisher.completed;
    const final = await publisher.stop(5_000);
    js.close();
    expect(final).toMatchObject({ confirmed: 50, inFlight: 0 });
    expect(await readStream(admin)).toHaveLength(50);
  });

  it("fails at once, naming the permission, when its inbox prefix is not allowed", async () => {
    const js = createConfirmedPublish(daemon);
    const event = nextEvent();
    await waitFor("the server to refuse the inbox subscription", async () => {
      const err = await js.publish(EVENTS_SUBJECT, encodeEvent(event), { msgID: event.id, timeout: 500 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      return classifyFailure(err) === "rejected" && /permission/i.test((err as Error).message);
    });
    js.close();
  });
});
