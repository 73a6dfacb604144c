import { type Deferred, deferred } from "@nats-io/nats-core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LiveFeed } from "./live-stream.js";
import { createOnDemandFeed, LiveFeedStoppedError } from "./on-demand-feed.js";

const IDLE_MS = 1_000;

/**
 * Feeds that say what happened to them: each start and stop, and when they completed. A start
 * waits for `gates.start` and a stop for `gates.stop` when the test sets them; `failNextStart`
 * makes the next start reject.
 */
const feedsOfLive = () => {
  const happened: string[] = [];
  const gates: { start?: Deferred<void>; stop?: Deferred<void> } = {};
  let failNextStart: Error | undefined;
  const start = async (): Promise<LiveFeed> => {
    happened.push("start");
    await gates.start;
    if (failNextStart !== undefined) {
      const err = failNextStart;
      failNextStart = undefined;
      throw err;
    }
    happened.push("following");
    return {
      async stop() {
        happened.push("stop");
        await gates.stop;
        happened.push("stopped");
      },
    };
  };
  const feed = createOnDemandFeed({ start, idleMs: IDLE_MS });
  return {
    feed,
    happened,
    gates,
    failNextStart: (err: Error) => {
      failNextStart = err;
    },
  };
};

/** Lets every promise that can settle now settle. */
const settle = () => vi.advanceTimersByTimeAsync(0);

/** Whether `promise` has settled (after letting what can settle, settle). */
const hasSettled = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await settle();
  return settled;
};

describe("the shared feed, followed on demand", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("does not follow LIVE until the first hold, and follows it once that hold is ready", async () => {
    const { feed, happened } = feedsOfLive();
    await settle();
    expect(feed.following).toBe(false);
    expect(happened).toEqual([]);
    const hold = feed.hold();
    await hold.ready;
    expect(feed.following).toBe(true);
    expect(happened).toEqual(["start", "following"]);
  });

  it("starts once for every hold that comes while it starts, and has each wait for that start", async () => {
    const { feed, happened, gates } = feedsOfLive();
    gates.start = deferred();
    const first = feed.hold();
    const second = feed.hold();
    await settle();
    const third = feed.hold();
    expect(await hasSettled(Promise.race([first.ready, second.ready, third.ready]))).toBe(false);
    gates.start.resolve();
    await Promise.all([first.ready, second.ready, third.ready]);
    expect(happened).toEqual(["start", "following"]);
    expect(feed.following).toBe(true);
  });

  it("stops once nothing held it for the idle time, a hold within it keeping the same feed", async () => {
    const { feed, happened } = feedsOfLive();
    const first = feed.hold();
    await first.ready;
    first.release();
    await vi.advanceTimersByTimeAsync(IDLE_MS - 1);
    const second = feed.hold();
    await second.ready;
    second.release();
    second.release();
    await vi.advanceTimersByTimeAsync(IDLE_MS - 1);
    expect(feed.following).toBe(true);
    expect(happened).toEqual(["start", "following"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(feed.following).toBe(false);
    expect(happened).toEqual(["start", "following", "stop", "stopped"]);
  });

  it("keeps following while one of several holds is left", async () => {
    const { feed, happened } = feedsOfLive();
    const holds = [feed.hold(), feed.hold()];
    await Promise.all(holds.map((hold) => hold.ready));
    holds[0]?.release();
    await vi.advanceTimersByTimeAsync(IDLE_MS * 5);
    expect(feed.following).toBe(true);
    holds[1]?.release();
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    expect(happened).toEqual(["start", "following", "stop", "stopped"]);
  });

  it("gives a hold that comes while the feed stops a feed started after the stop", async () => {
    const { feed, happened, gates } = feedsOfLive();
    const first = feed.hold();
    await first.ready;
    first.release();
    gates.stop = deferred();
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    expect(happened).toEqual(["start", "following", "stop"]);
    const second = feed.hold();
    expect(await hasSettled(second.ready)).toBe(false);
    expect(happened).toEqual(["start", "following", "stop"]);
    gates.stop.resolve();
    await second.ready;
    expect(happened).toEqual(["start", "following", "stop", "stopped", "start", "following"]);
    expect(feed.following).toBe(true);
  });

  it("does not stop when a hold came back before the stop's turn", async () => {
    const { feed, happened, gates } = feedsOfLive();
    gates.start = deferred();
    const first = feed.hold();
    first.release();
    // The idle time passes while the start is still under way: the stop waits for its turn.
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    const second = feed.hold();
    gates.start.resolve();
    await second.ready;
    await vi.advanceTimersByTimeAsync(IDLE_MS * 5);
    expect(happened).toEqual(["start", "following"]);
    expect(feed.following).toBe(true);
  });

  it("stops a feed whose every hold was released while it started", async () => {
    const { feed, happened, gates } = feedsOfLive();
    gates.start = deferred();
    const hold = feed.hold();
    await settle();
    expect(happened).toEqual(["start"]);
    hold.release();
    gates.start.resolve();
    await hold.ready;
    await vi.advanceTimersByTimeAsync(IDLE_MS);
    expect(happened).toEqual(["start", "following", "stop", "stopped"]);
    expect(feed.following).toBe(false);
  });

  it("fails every hold waiting for a start that failed, and starts again for the next hold", async () => {
    const { feed, happened, gates, failNextStart } = feedsOfLive();
    const noLive = new Error("LIVE cannot be read");
    failNextStart(noLive);
    gates.start = deferred();
    const waiting = [feed.hold(), feed.hold()];
    gates.start.resolve();
    for (const hold of waiting) {
      await expect(hold.ready).rejects.toBe(noLive);
      hold.release();
    }
    expect(feed.following).toBe(false);
    const next = feed.hold();
    await next.ready;
    expect(happened).toEqual(["start", "start", "following"]);
  });

  it("starts nothing for a hold released before the start's turn", async () => {
    const { feed, happened } = feedsOfLive();
    const hold = feed.hold();
    hold.release();
    await hold.ready;
    await vi.advanceTimersByTimeAsync(IDLE_MS * 5);
    expect(happened).toEqual([]);
    expect(feed.following).toBe(false);
  });

  it("stops at once for good, refusing the holds that come after", async () => {
    const { feed, happened } = feedsOfLive();
    const hold = feed.hold();
    await hold.ready;
    await feed.stop();
    expect(feed.following).toBe(false);
    expect(happened).toEqual(["start", "following", "stop", "stopped"]);
    hold.release();
    await expect(feed.hold().ready).rejects.toBeInstanceOf(LiveFeedStoppedError);
    await vi.advanceTimersByTimeAsync(IDLE_MS * 5);
    expect(happened).toEqual(["start", "following", "stop", "stopped"]);
  });

  it("stops a feed that was starting when it was told to stop", async () => {
    const { feed, happened, gates } = feedsOfLive();
    gates.start = deferred();
    const hold = feed.hold();
    await settle();
    expect(happened).toEqual(["start"]);
    const stopping = feed.stop();
    gates.start.resolve();
    await stopping;
    await hold.ready.catch(() => undefined);
    expect(feed.following).toBe(false);
    expect(happened).toEqual(["start", "following", "stop", "stopped"]);
  });
});
