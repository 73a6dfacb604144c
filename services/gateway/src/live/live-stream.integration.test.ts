import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { ensureLiveStream, LiveStreamEnv } from "@vigil/runtime";
import { LIVE_CONSUMER_PREFIXES, LIVE_STREAM, LIVE_SUBJECT } from "@vigil/shared";
import { createLogSink, type NatsServer, startNatsServer, waitFor } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEED_PULL_MESSAGES, followLive, keepFollowingLive } from "./live-stream.js";

/** Holds the event loop for `ms`, as a fan-out to many sessions does. */
const block = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe("the shared feed on a real nats-server", () => {
  let nats: NatsServer;
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  const logs = createLogSink("info");

  const liveEnd = async () => (await jsm.streams.info(LIVE_STREAM)).state.last_seq;
  /** Stores `count` messages in LIVE; resolves with the newest sequence once LIVE holds them all. */
  const fillLive = async (count: number): Promise<number> => {
    const end = (await liveEnd()) + count;
    for (let i = 0; i < count; i++) admin.publish(LIVE_SUBJECT, `{"n":${i}}`);
    await admin.flush();
    await waitFor("LIVE to hold the messages", async () => (await liveEnd()) >= end);
    return end;
  };

  beforeAll(async () => {
    nats = await startNatsServer();
    admin = await connect({ servers: nats.url });
    jsm = await jetstreamManager(admin);
    await ensureLiveStream(jsm, LiveStreamEnv.parse({}), logs.log);
  });

  afterAll(async () => {
    await admin?.close();
    await nats?.dispose();
  });

  it("holds at most one batch beyond what it handed out, however slow the fan-out, and lets the event loop turn", async () => {
    const start = await liveEnd();
    const backlog = 8 * FEED_PULL_MESSAGES;
    const end = await fillLive(backlog);
    // The feed's own connection: every message it receives once the consumer is made is the feed's.
    const nc = await connect({ servers: nats.url });
    const handled: number[] = [];
    let beforeFeed = Number.NaN;
    let mostHeld = 0;
    let handledWhenTimerFired: number | undefined;
    const follow = await followLive(jetstream(nc), start, (msg) => {
      if (handled.length === 0) {
        setTimeout(() => {
          handledWhenTimerFired = handled.length;
        }, 0);
      }
      handled.push(msg.seq);
      mostHeld = Math.max(mostHeld, nc.stats().inMsgs - beforeFeed - handled.length);
      block(1);
    });
    // The consumer is made; the feed's messages come after a round trip, so none is counted yet.
    beforeFeed = nc.stats().inMsgs;
    try {
      await waitFor("the feed to hand out the backlog", () => handled.length >= backlog, 60_000);
      expect(handled).toEqual(Array.from({ length: backlog }, (_, i) => start + 1 + i));
      expect(handled.at(-1)).toBe(end);
      expect(mostHeld).toBeLessThanOrEqual(FEED_PULL_MESSAGES);
      // A timer set as the fan-out began ran within the first batch, long before the backlog was out.
      expect(handledWhenTimerFired).toBeDefined();
      expect(handledWhenTimerFired).toBeLessThan(FEED_PULL_MESSAGES);
    } finally {
      await follow.stop();
      await nc.close();
    }
  });

  it("goes on after the newest message handed out when its consumer is deleted, without a gap or a duplicate", async () => {
    const start = await liveEnd();
    const nc = await connect({ servers: nats.url });
    const handled: number[] = [];
    const feed = await keepFollowingLive(
      jetstream(nc),
      () => handled.at(-1) ?? start,
      (msg) => handled.push(msg.seq),
      logs.log,
    );
    try {
      await fillLive(FEED_PULL_MESSAGES + 10);
      await waitFor("the first messages", () => handled.length >= FEED_PULL_MESSAGES + 10);
      const feedConsumers = async () =>
        (await jsm.consumers.list(LIVE_STREAM).next()).filter((info) =>
          info.name.startsWith(LIVE_CONSUMER_PREFIXES.feed),
        );
      for (const info of await feedConsumers()) await jsm.consumers.delete(LIVE_STREAM, info.name);
      const end = await fillLive(3 * FEED_PULL_MESSAGES);
      await waitFor("the feed to follow LIVE again", () => (handled.at(-1) ?? 0) >= end, 60_000);
      expect(handled).toEqual(Array.from({ length: end - start }, (_, i) => start + 1 + i));
      expect(logs.withMessage("the live feed ended and follows LIVE again")).toHaveLength(1);
    } finally {
      await feed.stop();
      await nc.close();
    }
  });
});
