import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { createCoalescer, type Logger } from "@vigil/runtime";
import type { Principal } from "../auth/principal.js";
import { createLiveHub, type LiveHub } from "./live-hub.js";
import type { LiveMetrics } from "./live-metrics.js";
import { createLiveSession, type LiveSession, type LiveSocket } from "./live-session.js";
import { createUpstreamWatch, keepFollowingLive, type LiveFeed, natsReplaySource, readLiveEnd } from "./live-stream.js";
import { createOnDemandFeed, type FeedHold } from "./on-demand-feed.js";
import { decodeLiveEvent, memoryFirstReplays, type ReplaySource, resumeSession } from "./resume.js";
import { checkSessions, type SessionChecks } from "./session-checks.js";

/** How the live tail treats its clients. */
export interface LiveTailSettings {
  /** Most connections open at once; more are refused with 503 before the upgrade. */
  readonly maxClients: number;
  /** Most bytes that may wait for one client; past it the client is closed `TOO_SLOW`. */
  readonly maxBufferedBytes: number;
  /** A heartbeat frame goes to each client that was sent nothing during this long. */
  readonly heartbeatMs: number;
  /** How often every connection's caller is checked for a logout or a changed role. */
  readonly sessionCheckMs: number;
  /**
   * How long the shared feed keeps following `LIVE` once no session is open; a client that
   * reconnects within it finds the feed running.
   */
  readonly feedIdleMs: number;
  /**
   * Newest messages of `LIVE` kept in memory: a client resuming within them replays from there,
   * without a consumer of its own.
   */
  readonly recentMessages: number;
}

/** What the live tail runs on. */
export interface LiveTailDeps {
  /** JetStream, with the API prefix under which the stream `LIVE` is reached. */
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly settings: LiveTailSettings;
  readonly checks: SessionChecks;
  readonly log: Logger;
  readonly metrics?: LiveMetrics | undefined;
}

/** What a client asked for in its URL. */
export interface LiveQuery {
  readonly minCriticality?: number | undefined;
  readonly after?: number | undefined;
}

/** Why a connection may not open now, as the route answers it before the upgrade. */
export type LiveRefusal = "full" | "revoked" | "role";

/**
 * The live tail of one gateway: one shared feed of `LIVE`, fanned out to every client, and followed
 * only while a client is connected.
 */
export interface LiveTail {
  readonly hub: LiveHub;
  /** Why `principal` may not open a connection now; undefined when it may. */
  refusal(principal: Principal): Promise<LiveRefusal | undefined>;
  /**
   * Has the shared feed follow `LIVE` for a connection about to open, starting it when it is
   * stopped: resolves once it follows, with the hold that {@link LiveTail.open} takes over; rejects
   * when `LIVE` cannot be followed. Taken before the upgrade, so that a client starting without
   * `after` gets every event stored after its handshake. Release it when the connection does not open.
   */
  holdFeed(): Promise<LiveHold>;
  /**
   * Opens a session on an upgraded `socket`, which holds the feed by `hold` until it ends: from the
   * next event, or, with `after`, replaying what came after it first. A session that cannot be
   * placed is ended with its close code.
   */
  open(socket: LiveSocket, principal: Principal, query: LiveQuery, hold: LiveHold): LiveSession;
  /** Ends every session (`GOING_AWAY`), then stops the feed (when it follows), the replays and the timers. */
  stop(): Promise<void>;
}

/** A connection's hold on the shared feed, and where it starts when it gives no `after`. */
export interface LiveHold extends FeedHold {
  /**
   * The newest message of `LIVE` when the hold was taken (or the feed's head, when that is newer):
   * a client without `after` gets what comes after it, never older events a lagging feed still
   * hands out.
   */
  readonly startAfter: number;
}

/** Longest a timer may be set for in Node (about 24.8 days); token lifetimes are far shorter. */
const MAX_TIMER_MS = 2_147_483_647;

/** The shared feed's handling of each message of `LIVE`: the upstream watch, then the fan-out. */
const fanOutFeed = (hub: LiveHub, deps: LiveTailDeps): ((msg: JsMsg) => void) => {
  const { log, metrics } = deps;
  // One watch per start: what was published while the feed was stopped is no hole upstream.
  const upstream = createUpstreamWatch((from, to) => {
    metrics?.eventsMissing(to - from + 1);
    log.warn(
      { eventsFrom: from, eventsTo: to, missing: to - from + 1 },
      "events stored in EVENTS never reached LIVE: no live-tail client gets them",
    );
  });
  return (msg) => {
    upstream.observe(Number(msg.headers?.get("Nats-Sequence") || Number.NaN));
    hub.publish(msg.seq, decodeLiveEvent(msg.data), msg.data.byteLength);
  };
};

/**
 * Follows `LIVE` from its current end, the hub's head moved up to it first: no session is joined
 * while the feed is stopped, and those waiting for it are placed once this resolves. When what
 * `LIVE` stored since the feed stopped fits in the hub's memory, the feed reads it instead, so that
 * the newest messages stay whole in memory for clients resuming after a pause.
 */
const followFromEnd = async (hub: LiveHub, deps: LiveTailDeps): Promise<LiveFeed> => {
  const { js, jsm, log } = deps;
  const end = await readLiveEnd(jsm);
  if (end - hub.head > deps.settings.recentMessages) hub.moveHeadTo(end);
  const feed = await keepFollowingLive(js, () => hub.head, fanOutFeed(hub, deps), log);
  log.info({ after: hub.head }, "the live feed follows LIVE");
  return {
    async stop() {
      await feed.stop();
      log.info({ head: hub.head }, "the live feed stopped");
    },
  };
};

/**
 * Starts the timers (heartbeats, session checks); the shared feed starts with the first session,
 * at the stream's end then, and stops once no session was open for `feedIdleMs`. Rejects when
 * `LIVE` cannot be read, so that a gateway that could not follow it does not start.
 */
export const startLiveTail = async (deps: LiveTailDeps): Promise<LiveTail> => {
  const { js, jsm, settings, checks, log, metrics } = deps;
  const hub = createLiveHub(await readLiveEnd(jsm), settings.recentMessages);
  // A replay's batch is half a client's bound: it waits for the client to take one before the next.
  const batchBytes = Math.floor(settings.maxBufferedBytes / 2);
  const replays: ReplaySource = memoryFirstReplays(hub, natsReplaySource(js, batchBytes), batchBytes);
  const feed = createOnDemandFeed({ start: () => followFromEnd(hub, deps), idleMs: settings.feedIdleMs });
  const placing = new Set<Promise<void>>();

  const heartbeats = setInterval(() => hub.tick(), settings.heartbeatMs);
  let checking = false;
  const sessionChecks = setInterval(() => {
    if (checking) return;
    checking = true;
    void checkSessions(hub.sessions(), checks, (err) =>
      log.warn({ err }, "cannot read a refresh family; checking again later"),
    ).finally(() => {
      checking = false;
    });
  }, settings.sessionCheckMs);

  // One stream-info request serves every connection that asks while it is in flight: a read that
  // began before a connection asked returns an end no newer than that connection's, so sharing it
  // can only start the connection earlier, never skip what was stored after it asked.
  const ends = createCoalescer();
  const liveEnd = () => ends.run("end", () => readLiveEnd(jsm));

  const place = async (session: LiveSession, after: number | undefined, startAfter: number): Promise<void> => {
    if (session.closed) return;
    if (after === undefined) {
      // Behind the stream's end, the feed still hands out older events: this session skips them.
      session.cursor = Math.max(hub.head, startAfter);
      return hub.join(session);
    }
    if (after > hub.head && after > (await readLiveEnd(jsm))) return session.end("CURSOR_UNKNOWN");
    await resumeSession(session, hub, replays, after);
  };

  const expireWithToken = (session: LiveSession, expiresAt: number | undefined): void => {
    if (expiresAt === undefined) return;
    const timer = setTimeout(() => session.end("TOKEN_EXPIRED"), Math.min(MAX_TIMER_MS, expiresAt - Date.now()));
    session.onEnd(() => clearTimeout(timer));
  };

  return {
    hub,
    async refusal(principal) {
      if (hub.size >= settings.maxClients) return "full";
      if (!checks.isCurrent(principal)) return "role";
      if (principal.family !== undefined && (await checks.isRevoked(principal.family))) return "revoked";
      return undefined;
    },
    async holdFeed() {
      const hold = feed.hold();
      try {
        await hold.ready;
        return { ready: hold.ready, release: hold.release, startAfter: Math.max(hub.head, await liveEnd()) };
      } catch (err) {
        hold.release();
        throw err;
      }
    },
    open(socket, principal, query, hold) {
      const session = createLiveSession({
        socket,
        principal,
        minCriticality: query.minCriticality,
        maxBufferedBytes: settings.maxBufferedBytes,
        events: metrics,
      });
      session.onEnd(hold.release);
      // Connections upgraded together may all have passed the count before the upgrade.
      if (hub.size >= settings.maxClients) {
        session.end("TRY_AGAIN_LATER");
        return session;
      }
      hub.add(session);
      expireWithToken(session, principal.expiresAt);
      const placed: Promise<void> = hold.ready
        .then(() => place(session, query.after, hold.startAfter))
        .catch((err: unknown) => {
          if (session.closed) return;
          log.warn({ err, after: query.after }, "cannot follow or replay LIVE for a live-tail client");
          session.end("TRY_AGAIN_LATER");
        })
        .finally(() => placing.delete(placed));
      placing.add(placed);
      return session;
    },
    async stop() {
      clearInterval(heartbeats);
      clearInterval(sessionChecks);
      hub.endAll("GOING_AWAY");
      await Promise.allSettled([...placing]);
      await feed.stop();
    },
  };
};
