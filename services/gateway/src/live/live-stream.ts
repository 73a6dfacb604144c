import { randomBytes } from "node:crypto";
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { backoffDelay, type Logger, sleep } from "@vigil/runtime";
import { LIVE_CONSUMER_PREFIXES, LIVE_STREAM } from "@vigil/shared";
import { type LiveMessage, liveMessage, type ReplayReader, type ReplaySource } from "./resume.js";

/**
 * The live tail's reads of the stream `LIVE`, all through the JetStream API of the client it is
 * given (whose prefix may lead into another account): stream info, and ordered consumers, which
 * are pull consumers without acknowledgements (`CONSUMER.CREATE`, `CONSUMER.MSG.NEXT`,
 * `CONSUMER.DELETE`, and `CONSUMER.INFO` when the client checks one after missed heartbeats).
 */

/**
 * Messages the shared feed asks for at once, and asks for again only once it has handed them all
 * out: the most a gateway holds for the feed beyond its clients' bounds. A backlog the gateway
 * cannot take yet waits in `LIVE`.
 */
export const FEED_PULL_MESSAGES = 256;

/** How long a batch of the shared feed waits for messages the stream does not have yet. */
const FEED_WAIT_MS = 30_000;

/**
 * Longest the shared feed hands messages out before the event loop gets a turn (heartbeats, the ops
 * port, new connections, and the sessions' corked writes, whose `bufferedAmount` the bound checks
 * then see). Each turn flushes every client's coalesced writes, so a shorter slice sends fewer
 * frames per write: at 5,000 clients and 1,000 events/s, a 20 ms slice delivered less than a
 * quarter of the frames an unbroken fan-out did, a 200 ms slice blocked the loop up to 595 ms. At
 * 50 ms, 2,000 clients at 1,000 events/s blocked it at most 376 ms (against 3.4 s and 18.7 s
 * without turns), with the machine's two cores busy.
 */
export const FEED_SLICE_MS = 50;

/** How long a replay's batch waits for messages the stream does not have (yet). */
const REPLAY_WAIT_MS = 2_000;

/** A consumer name that says what it is, for whoever lists the consumers of `LIVE`. */
const consumerPrefix = (what: keyof typeof LIVE_CONSUMER_PREFIXES): string =>
  `${LIVE_CONSUMER_PREFIXES[what]}_${randomBytes(6).toString("hex")}`;

/** The newest sequence of `LIVE` (0 when it never held anything). */
export const readLiveEnd = async (jsm: JetStreamManager): Promise<number> =>
  (await jsm.streams.info(LIVE_STREAM)).state.last_seq;

/** The shared feed: one ordered consumer, read batch by batch as the gateway hands them out. */
export interface LiveFollow {
  /** Settles when the feed ends: after {@link LiveFollow.stop}, or when the consumer gave up. */
  readonly ended: Promise<void>;
  stop(): Promise<void>;
}

/** Resolves once the event loop has had a turn: timers, I/O and what `setImmediate` scheduled ran. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Hands out the shared feed's messages at the event loop's pace: `due` says whether the
 * current slice of fan-out is over, and `turn` lets the event loop run before the next one.
 */
export const createFeedPacing = (sliceMs: number, now: () => number = performance.now.bind(performance)) => {
  let sliceStart = now();
  return {
    /** Whether the fan-out has held the event loop for `sliceMs` or more since its last turn. */
    due: (): boolean => now() - sliceStart >= sliceMs,
    /** Gives the event loop a turn and starts the next slice. */
    async turn(): Promise<void> {
      await nextTurn();
      sliceStart = now();
    },
  };
};

/**
 * Follows `LIVE` from the message after `after`, handing each message to `handle` in order. The
 * next batch is asked for only once the previous one has been handed out and the event loop has
 * had a turn, so a gateway that cannot keep up leaves the backlog in `LIVE`; within a batch the
 * event loop gets a turn every {@link FEED_SLICE_MS} of fan-out.
 */
export const followLive = async (
  js: JetStreamClient,
  after: number,
  handle: (msg: JsMsg) => void,
): Promise<LiveFollow> => {
  const consumer = await js.consumers.get(LIVE_STREAM, {
    opt_start_seq: after + 1,
    name_prefix: consumerPrefix("feed"),
  });
  const stopping = new AbortController();
  let batch: ConsumerMessages | undefined;
  const pacing = createFeedPacing(FEED_SLICE_MS);
  const handOut = async (messages: ConsumerMessages): Promise<void> => {
    for await (const msg of messages) {
      if (stopping.signal.aborted) return;
      handle(msg);
      if (pacing.due()) await pacing.turn();
    }
  };
  const ended = (async () => {
    while (!stopping.signal.aborted) {
      batch = await consumer.fetch({ max_messages: FEED_PULL_MESSAGES, expires: FEED_WAIT_MS });
      if (stopping.signal.aborted) batch.stop();
      await handOut(batch);
      await pacing.turn();
    }
  })();
  return {
    ended,
    async stop() {
      stopping.abort();
      batch?.stop();
      await ended.catch(() => undefined);
      await consumer.delete().catch(() => undefined);
    },
  };
};

/** The shared feed kept running, however often its consumer gives up. */
export interface LiveFeed {
  stop(): Promise<void>;
}

/**
 * Follows `LIVE` from the message after `after()` (resolves once following, rejects when `LIVE`
 * cannot be read). The ordered consumer recovers from reconnects by itself; should it end all the
 * same, it is started again, with back-off, after the newest message handed out, so that whoever
 * `handle` feeds notices nothing but a delay.
 */
export const keepFollowingLive = async (
  js: JetStreamClient,
  after: () => number,
  handle: (msg: JsMsg) => void,
  log: Logger,
): Promise<LiveFeed> => {
  let follow = await followLive(js, after(), handle);
  const stopping = new AbortController();
  const following = (async () => {
    for (let attempt = 0; !stopping.signal.aborted; attempt++) {
      await follow.ended.catch((err: unknown) => log.error({ err }, "the live feed failed"));
      if (stopping.signal.aborted) return;
      await sleep(backoffDelay(attempt, 500, 10_000), stopping.signal);
      if (stopping.signal.aborted) return;
      try {
        follow = await followLive(js, after(), handle);
        log.warn({ after: after() }, "the live feed ended and follows LIVE again");
        attempt = -1;
      } catch (err) {
        log.error({ err }, "cannot follow LIVE; retrying");
      }
    }
  })();
  return {
    async stop() {
      stopping.abort();
      await follow.stop();
      await following;
    },
  };
};

const isTooLargeForBatch = (err: unknown): boolean => err instanceof Error && /exceeds maxbytes/i.test(err.message);

/**
 * The server ends a fetch that took its whole message count (nats.js asks for at most 100 when it
 * fetches by bytes) with "409 Batch Completed" while bytes are left; nats.js throws it from a fetch.
 */
const isBatchCompleted = (err: unknown): boolean => err instanceof Error && /batch completed/i.test(err.message);

/** Yields the messages of one fetch, and stops it however the iteration ends. */
async function* drain(messages: ConsumerMessages): AsyncGenerator<LiveMessage> {
  try {
    for await (const msg of messages) yield liveMessage(msg.seq, msg.data);
  } finally {
    messages.stop();
  }
}

/**
 * Replays of `LIVE` for resuming clients, each on its own ordered consumer, deleted once the
 * client has caught up. A batch holds at most `batchBytes` of messages (the server ends a batch
 * with a 409 when the next message does not fit); a single message larger than a whole batch is
 * fetched on its own.
 */
export const natsReplaySource = (js: JetStreamClient, batchBytes: number): ReplaySource => ({
  async open(fromSeq): Promise<ReplayReader> {
    const consumer = await js.consumers.get(LIVE_STREAM, {
      opt_start_seq: fromSeq,
      name_prefix: consumerPrefix("replay"),
    });
    return {
      async *batch() {
        let yielded = 0;
        try {
          for await (const message of drain(await consumer.fetch({ max_bytes: batchBytes, expires: REPLAY_WAIT_MS }))) {
            yielded++;
            yield message;
          }
        } catch (err) {
          if (isBatchCompleted(err)) return;
          if (!isTooLargeForBatch(err)) throw err;
          // The next message does not fit in what is left of the batch: the next batch starts
          // with it, and when it does not fit in a whole batch either, it comes on its own.
          if (yielded === 0) yield* drain(await consumer.fetch({ max_messages: 1, expires: REPLAY_WAIT_MS }));
        }
      },
      close: () =>
        consumer.delete().then(
          () => undefined,
          () => undefined,
        ),
    };
  },
});

/**
 * Notices events that EVENTS stored but whose copy never reached `LIVE`, from the EVENTS sequence
 * each copy carries (`Nats-Sequence`): JetStream republishes without confirmation, and `LIVE`
 * refuses a copy whose publisher's `Nats-Expected-*` headers were meant for EVENTS, or drops copies
 * when its ingest queue overflows. Nobody can deliver those events; the operator is told. It sees
 * what the shared feed reads, so only while the feed follows `LIVE` (while the gateway has a
 * live-tail client): each start of the feed gets a new watch, and what reached `LIVE` while the feed
 * was stopped is not checked.
 */
export const createUpstreamWatch = (onMissing: (from: number, to: number) => void) => {
  let last: number | undefined;
  return {
    /** Takes the EVENTS sequence of the next message of `LIVE` (undefined when it carries none). */
    observe(eventsSeq: number | undefined): void {
      if (eventsSeq === undefined || !Number.isSafeInteger(eventsSeq)) return;
      // A lower sequence: EVENTS was made again, or the feed read older messages again.
      if (last !== undefined && eventsSeq > last + 1) onMissing(last + 1, eventsSeq - 1);
      last = eventsSeq;
    },
  };
};
