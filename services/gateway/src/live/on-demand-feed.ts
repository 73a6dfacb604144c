import type { LiveFeed } from "./live-stream.js";

/** What waiting for the feed fails with once {@link OnDemandFeed.stop} was called. */
export class LiveFeedStoppedError extends Error {
  override readonly name = "LiveFeedStoppedError";
  constructor() {
    super("the live tail is stopping: its feed does not start again");
  }
}

/** One session's need of the shared feed, from its opening to its end. */
export interface FeedHold {
  /**
   * Resolves once the feed follows `LIVE`, started for this hold when it was stopped; rejects when
   * it cannot start (or the feed was stopped for good).
   */
  readonly ready: Promise<void>;
  /** Ends this need; later calls do nothing. */
  release(): void;
}

/** How the shared feed is started, and how long it outlives its last hold. */
export interface OnDemandFeedOptions {
  /** Starts following `LIVE`; rejects when it cannot. */
  readonly start: () => Promise<LiveFeed>;
  /** How long the feed keeps following once nothing holds it. */
  readonly idleMs: number;
}

/** The shared feed, following `LIVE` only while something holds it. */
export interface OnDemandFeed {
  /** Whether the feed follows `LIVE` now (started, and not being stopped). */
  readonly following: boolean;
  /** Counts one more need of the feed, starting it when it is stopped. */
  hold(): FeedHold;
  /** Stops the feed at once and for good; holds from now on are refused. */
  stop(): Promise<void>;
}

/**
 * The first hold starts the feed, holds that come while it starts share that start, and the feed
 * stops once nothing has held it for `idleMs` (a client that reconnects within it finds the feed
 * running). Starts and stops take turns: a hold that comes while the feed is stopping waits for a
 * feed started after the stop, and a stop whose turn comes while something holds the feed again
 * does nothing.
 */
export const createOnDemandFeed = ({ start, idleMs }: OnDemandFeedOptions): OnDemandFeed => {
  let feed: LiveFeed | undefined;
  let holders = 0;
  let stopped = false;
  let idleTimer: NodeJS.Timeout | undefined;
  let starting: Promise<void> | undefined;
  let turns: Promise<void> = Promise.resolve();

  /** Runs `step` once every start and stop asked for before it has settled. */
  const takeTurn = (step: () => Promise<void>): Promise<void> => {
    const turn = turns.then(step);
    turns = turn.catch(() => undefined);
    return turn;
  };
  const startIfHeld = async (): Promise<void> => {
    if (stopped) throw new LiveFeedStoppedError();
    if (feed === undefined && holders > 0) feed = await start();
  };
  const stopIfIdle = async (): Promise<void> => {
    if (holders > 0 || feed === undefined) return;
    const idle = feed;
    feed = undefined;
    await idle.stop();
  };
  const follow = async (released: () => boolean): Promise<void> => {
    // Checked again after each start: a stop may have taken its turn between that start and this hold.
    while (feed === undefined && !released()) {
      if (stopped) throw new LiveFeedStoppedError();
      starting ??= takeTurn(startIfHeld).finally(() => {
        starting = undefined;
      });
      await starting;
    }
  };

  return {
    get following() {
      return feed !== undefined;
    },
    hold() {
      holders++;
      clearTimeout(idleTimer);
      let released = false;
      return {
        ready: follow(() => released),
        release() {
          if (released) return;
          released = true;
          holders--;
          if (holders > 0 || stopped) return;
          clearTimeout(idleTimer);
          idleTimer = setTimeout(() => void takeTurn(stopIfIdle), idleMs);
        },
      };
    },
    async stop() {
      stopped = true;
      clearTimeout(idleTimer);
      await takeTurn(async () => {
        const last = feed;
        feed = undefined;
        await last?.stop();
      });
    },
  };
};
