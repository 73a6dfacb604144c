/**
 * A stream or consumer changed behind Vigil's back (findings 2 to 4 of the producer-credential
 * review): every service refuses to run on it with a message naming what differs, instead of
 * working on a tampered topology; what an update can correct is corrected by the services that
 * may (the writer), and the flags that forbid deletion, purge and rollup hold against the server
 * itself. Against a real nats-server (NATS_SERVER_BIN, 2.11 as compose pins it), as an
 * unrestricted user standing in for whoever changed the topology.
 */
import { AckPolicy, type JetStreamManager, jetstream, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection, nanos } from "@nats-io/transport-node";
import {
  checkEventsStream,
  checkLiveStream,
  createLogger,
  deadLetterStreamConfig,
  ensureDeadLetterStream,
  ensureEventsStream,
  ensureLiveStream,
  eventsStreamConfig,
  liveStreamConfig,
  StartupError,
  StreamEnv,
} from "@vigil/runtime";
import {
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECT,
  EVENTS_STREAM,
  EVENTS_SUBJECT,
  LIVE_STREAM,
  LIVE_SUBJECT,
  WRITER_CONSUMER,
} from "@vigil/shared";
import { type NatsServer, removeStreams, startNatsServer } from "@vigil/testing";
import {
  checkWriterConsumer,
  ensureWriterConsumer,
  WriterConsumerEnv,
  writerConsumerConfig,
  writerConsumerSettings,
} from "@vigil/writer";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const log = createLogger("topology-test", "silent");
const streams = StreamEnv.parse({});
const consumer = writerConsumerSettings(WriterConsumerEnv.parse({}));

let nats: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;

/** The topology exactly as the writer creates it, from scratch. */
const createTopology = async () => {
  await removeStreams(jsm, EVENTS_STREAM, DEAD_LETTER_STREAM, LIVE_STREAM);
  await ensureLiveStream(jsm, streams, log);
  await ensureEventsStream(jsm, streams, log);
  await ensureWriterConsumer(jsm, consumer, log);
  await ensureDeadLetterStream(jsm, streams, log);
};

/** Changes stream `name` as an intruder with the JetStream API would. */
const tamperStream = async (name: string, change: Partial<StreamConfig>) => {
  const { config } = await jsm.streams.info(name);
  await jsm.streams.update(name, { ...config, ...change });
};

/** Recreates the writers' consumer with `change`, as an intruder allowed CONSUMER.CREATE would. */
const tamperConsumer = async (change: Record<string, unknown>) => {
  await jsm.consumers.delete(EVENTS_STREAM, WRITER_CONSUMER);
  await jsm.consumers.add(EVENTS_STREAM, { ...writerConsumerConfig(consumer), ...change });
};

const refusal = async (attempt: Promise<unknown>): Promise<string> => {
  const err = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StartupError);
  return (err as StartupError).message;
};

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

beforeEach(createTopology);

describe("the streams Vigil creates", () => {
  it("forbid deleting and purging events, and rollups; dead letters may be deleted one by one, not purged", async () => {
    expect((await jsm.streams.info(EVENTS_STREAM)).config).toMatchObject({
      deny_delete: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
      sealed: false,
    });
    expect((await jsm.streams.info(DEAD_LETTER_STREAM)).config).toMatchObject({
      deny_delete: false,
      deny_purge: true,
      allow_rollup_hdrs: false,
    });
  });

  it("refuse a purge, a message delete and a rollup at the server, and lose nothing", async () => {
    const js = jetstream(nc);
    for (let i = 0; i < 3; i++) await js.publish(EVENTS_SUBJECT, `{"n":${i}}`);
    await js.publish(DEAD_LETTER_SUBJECT, "record");
    await expect(jsm.streams.purge(EVENTS_STREAM)).rejects.toThrow(/purge/i);
    await expect(jsm.streams.purge(DEAD_LETTER_STREAM)).rejects.toThrow(/purge/i);
    await expect(jsm.streams.deleteMessage(EVENTS_STREAM, 1)).rejects.toThrow(/delete/i);
    // With deny_purge the server will not allow rollup headers at all.
    await expect(tamperStream(EVENTS_STREAM, { allow_rollup_hdrs: true })).rejects.toThrow(/roll-?ups/i);
    await expect(js.publish(EVENTS_SUBJECT, "{}", { headers: rollupHeaders() })).rejects.toThrow(/rollup/i);
    // Neither flag can be cleared again by an update.
    await expect(tamperStream(EVENTS_STREAM, { deny_purge: false })).rejects.toThrow();
    await expect(tamperStream(EVENTS_STREAM, { deny_delete: false })).rejects.toThrow();
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(3);
    expect((await jsm.streams.info(DEAD_LETTER_STREAM)).state.messages).toBe(1);
  });

  it("still let the writer's acknowledgement remove an event from the work queue", async () => {
    await jetstream(nc).publish(EVENTS_SUBJECT, "{}");
    const msg = await (await jetstream(nc).consumers.get(EVENTS_STREAM, WRITER_CONSUMER)).next({ expires: 5_000 });
    expect(await msg?.ackAck()).toBe(true);
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(0);
  });
});

const rollupHeaders = () => {
  const rollup = headers();
  rollup.set("Nats-Rollup", "all");
  return rollup;
};

describe("a tampered events stream", () => {
  it("sealed: no service runs on it, and the message says it cannot be undone", async () => {
    await tamperStream(EVENTS_STREAM, { sealed: true });
    const checked = await refusal(checkEventsStream(jsm, streams));
    expect(checked).toMatch(/stream EVENTS .*refusing to run.*sealed is true/);
    expect(checked).toMatch(/No update can undo this/);
    expect(await refusal(ensureEventsStream(jsm, streams, log))).toMatch(/sealed is true/);
  });

  it.each([
    ["max_msgs_per_subject", { max_msgs_per_subject: 1 }],
    ["no_ack", { no_ack: true }],
    ["max_age", { max_age: nanos(120_000) }],
    ["discard", { discard: "old" }],
  ] as const)("%s changed: a producer refuses to run on it; the writer corrects it", async (field, change) => {
    await tamperStream(EVENTS_STREAM, change as Partial<StreamConfig>);
    expect(await refusal(checkEventsStream(jsm, streams))).toContain(`${field} is `);
    await ensureEventsStream(jsm, streams, log);
    await checkEventsStream(jsm, streams);
  });

  it("created by someone else without the deny flags: the writer adds them, a producer refuses", async () => {
    await jsm.streams.delete(EVENTS_STREAM);
    const { deny_delete: _d, deny_purge: _p, ...lax } = eventsStreamConfig(streams);
    await jsm.streams.add(lax as StreamConfig);
    expect(await refusal(checkEventsStream(jsm, streams))).toMatch(/deny_delete is false.*deny_purge is false/);
    await ensureEventsStream(jsm, streams, log);
    expect((await jsm.streams.info(EVENTS_STREAM)).config).toMatchObject({ deny_delete: true, deny_purge: true });
  });

  it("republishing events elsewhere: a producer refuses to run on it; the writer points it back at live.events", async () => {
    await tamperStream(EVENTS_STREAM, { republish: { src: ">", dest: "elsewhere.>" } });
    expect(await refusal(checkEventsStream(jsm, streams))).toMatch(/republish is .*"elsewhere\.>".*live\.events/);
    await ensureEventsStream(jsm, streams, log);
    expect((await jsm.streams.info(EVENTS_STREAM)).config.republish).toEqual({
      src: EVENTS_SUBJECT,
      dest: LIVE_SUBJECT,
    });
    await checkEventsStream(jsm, streams);
  });

  it("created before the live tail, without the republish: a producer refuses, the writer adds it", async () => {
    await jsm.streams.delete(EVENTS_STREAM);
    const { republish: _r, ...older } = eventsStreamConfig(streams);
    await jsm.streams.add(older as StreamConfig);
    expect(await refusal(checkEventsStream(jsm, streams))).toMatch(/republish is unset/);
    await ensureEventsStream(jsm, streams, log);
    await checkEventsStream(jsm, streams);
    await jetstream(nc).publish(EVENTS_SUBJECT, '{"added":true}');
    const live = await jsm.streams.info(LIVE_STREAM);
    expect(live.state.messages).toBe(1);
    expect((await jsm.streams.getMessage(LIVE_STREAM, { seq: live.state.last_seq }))?.string()).toBe('{"added":true}');
  });

  it("with limits retention: refused, nothing an update could fix", async () => {
    await jsm.streams.delete(EVENTS_STREAM);
    await jsm.streams.add({ ...eventsStreamConfig(streams), retention: "limits" } as StreamConfig);
    expect(await refusal(ensureEventsStream(jsm, streams, log))).toMatch(/retention is "limits".*No update/);
  });

  it("missing: a producer that may not create it says so", async () => {
    await jsm.streams.delete(EVENTS_STREAM);
    expect(await refusal(checkEventsStream(jsm, streams))).toMatch(/stream EVENTS does not exist/);
  });
});

describe("the live tail's stream", () => {
  const publish = async (payload: string, options: Parameters<ReturnType<typeof jetstream>["publish"]>[2] = {}) =>
    jetstream(nc).publish(EVENTS_SUBJECT, payload, options);

  it("keeps a copy of every event EVENTS stored, with EVENTS' sequence in Nats-Sequence, after the writer took it", async () => {
    const acks = [];
    for (let i = 0; i < 3; i++) acks.push(await publish(`{"n":${i}}`, { msgID: `live-${i}` }));
    // The writer acknowledges the first: gone from the work queue, still in LIVE.
    const msg = await (await jetstream(nc).consumers.get(EVENTS_STREAM, WRITER_CONSUMER)).next({ expires: 5_000 });
    expect(await msg?.ackAck()).toBe(true);
    const live = await jsm.streams.info(LIVE_STREAM);
    expect(live.state.messages).toBe(3);
    for (let i = 0; i < 3; i++) {
      const stored = await jsm.streams.getMessage(LIVE_STREAM, { seq: live.state.first_seq + i });
      expect(stored?.string()).toBe(`{"n":${i}}`);
      expect(stored?.subject).toBe(LIVE_SUBJECT);
      expect(stored?.header.get("Nats-Sequence")).toBe(String(acks[i]?.seq));
      expect(stored?.header.get("Nats-Stream")).toBe(EVENTS_STREAM);
    }
  });

  it("refuses a purge and a message delete at the server", async () => {
    await publish('{"n":1}');
    await expect(jsm.streams.purge(LIVE_STREAM)).rejects.toThrow(/purge/i);
    await expect(jsm.streams.deleteMessage(LIVE_STREAM, 1)).rejects.toThrow(/delete/i);
    expect((await jsm.streams.info(LIVE_STREAM)).state.messages).toBe(1);
  });

  it("drops the oldest events beyond LIVE_MAX_MSGS, and its sequence keeps counting", async () => {
    const small = StreamEnv.parse({ LIVE_MAX_MSGS: "10" });
    await ensureLiveStream(jsm, small, log);
    for (let i = 0; i < 25; i++) await publish(`{"n":${i}}`);
    const { state } = await jsm.streams.info(LIVE_STREAM);
    expect(state).toMatchObject({ messages: 10, first_seq: 16, last_seq: 25 });
  });

  it("with other limits: the gateway refuses to run on it; the writer corrects it", async () => {
    await tamperStream(LIVE_STREAM, { max_msgs: 100 });
    expect(await refusal(checkLiveStream(jsm, streams))).toMatch(/stream LIVE .*max_msgs is 100/);
    await ensureLiveStream(jsm, streams, log);
    await checkLiveStream(jsm, streams);
  });

  it("republishing itself elsewhere: refused, nothing an update removes", async () => {
    await tamperStream(LIVE_STREAM, { republish: { src: ">", dest: "elsewhere.>" } });
    expect(await refusal(checkLiveStream(jsm, streams))).toMatch(/republish is .*No update/);
    expect(await refusal(ensureLiveStream(jsm, streams, log))).toMatch(/republish is /);
  });

  it("missing: the gateway says to run the set-up", async () => {
    await jsm.streams.delete(LIVE_STREAM);
    expect(await refusal(checkLiveStream(jsm, streams))).toMatch(
      /stream LIVE does not exist: create the topology first: run the set-up/,
    );
  });

  it("is created by the writer as the contract says", async () => {
    expect((await jsm.streams.info(LIVE_STREAM)).config).toMatchObject({
      ...liveStreamConfig(streams),
      retention: "limits",
      discard: "old",
      max_msgs: 1_000_000,
    });
  });

  // What the server does, not what Vigil would like: the republished copy keeps the publisher's
  // headers, so LIVE applies a `Nats-Expected-*` header meant for EVENTS to itself and refuses the
  // copy, with nobody to tell. The gateway counts such holes from `Nats-Sequence` (README, gateway).
  it("does not get a copy of an event published with Nats-Expected-Stream: EVENTS, though EVENTS stored it", async () => {
    const before = (await jsm.streams.info(LIVE_STREAM)).state.messages;
    const ack = await publish('{"expected":true}', { expect: { streamName: EVENTS_STREAM } });
    expect(ack.stream).toBe(EVENTS_STREAM);
    await publish('{"after":true}');
    const live = await jsm.streams.info(LIVE_STREAM);
    expect(live.state.messages).toBe(before + 1);
    const last = await jsm.streams.getMessage(LIVE_STREAM, { seq: live.state.last_seq });
    expect(last?.string()).toBe('{"after":true}');
    expect(Number(last?.header.get("Nats-Sequence"))).toBe(ack.seq + 1);
  });
});

describe("a tampered dead-letter stream", () => {
  it("sealed: the writer refuses to run", async () => {
    await tamperStream(DEAD_LETTER_STREAM, { sealed: true });
    expect(await refusal(ensureDeadLetterStream(jsm, streams, log))).toMatch(/stream DEADLETTERS .*sealed is true/);
  });

  it("with rollups allowed before Vigil set deny_purge: the writer corrects it", async () => {
    await jsm.streams.delete(DEAD_LETTER_STREAM);
    await jsm.streams.add({
      ...deadLetterStreamConfig(streams),
      deny_purge: false,
      allow_rollup_hdrs: true,
    } as StreamConfig);
    await ensureDeadLetterStream(jsm, streams, log);
    expect((await jsm.streams.info(DEAD_LETTER_STREAM)).config).toMatchObject({
      deny_purge: true,
      allow_rollup_hdrs: false,
    });
  });
});

describe("a tampered writers' consumer", () => {
  it.each([
    ["headers_only", { headers_only: true }],
    ["max_deliver", { max_deliver: 1 }],
    ["filter_subject", { filter_subject: "events.none" }],
    ["backoff", { backoff: [nanos(60_000)], max_deliver: 5 }],
    ["inactive_threshold", { inactive_threshold: nanos(5_000) }],
  ])("%s: the writer refuses to run on it and names the field", async (field, change) => {
    // Filtering on a subject the stream does not hold is refused by the server itself.
    if (field === "filter_subject") await tamperStream(EVENTS_STREAM, { subjects: [EVENTS_SUBJECT, "events.none"] });
    await tamperConsumer(change);
    const message = await refusal(ensureWriterConsumer(jsm, consumer, log));
    expect(message).toMatch(new RegExp(`consumer writer on EVENTS .*refusing to run.*${field} is `));
    expect(message).toMatch(/nats consumer rm EVENTS writer/);
    expect(await refusal(checkWriterConsumer(jsm, consumer))).toContain(`${field} is `);
  });

  it.each([
    ["ack_policy none", { ack_policy: AckPolicy.None }, /explicit ack/],
    ["deliver_policy new", { deliver_policy: "new" }, /deliver all/],
    ["rate_limit_bps", { rate_limit_bps: 8 }, /rate limit/],
  ])("%s: refused by the server itself on a work-queue stream", async (_name, change, reason) => {
    await expect(tamperConsumer(change)).rejects.toThrow(reason);
  });

  it("paused: the writer refuses to run on it", async () => {
    await jsm.consumers.pause(EVENTS_STREAM, WRITER_CONSUMER, new Date(Date.now() + 3_600_000));
    expect(await refusal(ensureWriterConsumer(jsm, consumer, log))).toMatch(/pause_until is /);
  });

  it("with another ack wait and in-flight bound: the writer brings them back", async () => {
    await jsm.consumers.update(EVENTS_STREAM, WRITER_CONSUMER, { ack_wait: nanos(1_000), max_ack_pending: 1 });
    expect(await refusal(checkWriterConsumer(jsm, consumer))).toMatch(/ack_wait is .*max_ack_pending is 1/);
    await ensureWriterConsumer(jsm, consumer, log);
    await checkWriterConsumer(jsm, consumer);
  });
});
