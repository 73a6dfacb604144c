import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "@vigil/runtime";
import type { Principal } from "../auth/principal.js";
import { createLiveHub, type LiveHub } from "./live-hub.js";
import type { LiveMetrics } from "./live-metrics.js";
import { createLiveSession, type LiveSession, type LiveSocket } from "./live-session.js";
import { createUpstreamWatch, keepFollowingLive, natsReplaySource, readLiveEnd } from "./live-stream.js";
import { decodeLiveEvent, type ReplaySource, resumeSession } from "./resume.js";
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

/** The live tail of one gateway: one shared feed of `LIVE`, fanned out to every client. */
export interface LiveTail {
  readonly hub: LiveHub;
  /** Why `principal` may not open a connection now; undefined when it may. */
  refusal(principal: Principal): Promise<LiveRefusal | undefined>;
  /**
   * Opens a session on an upgraded `socket`: from the next event, or, with `after`, replaying what
   * came after it first. A session that cannot be placed is ended with its close code.
   */
  open(socket: LiveSocket, principal: Principal, query: LiveQuery): LiveSession;
  /** Ends every session (`GOING_AWAY`), then stops the feed, the replays and the timers. */
  stop(): Promise<void>;
}

/** Longest a timer may be set for in Node (about 24.8 days); token lifetimes are far shorter. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Starts the shared feed at the stream's current end and the timers (heartbeats, session checks).
 * Rejects when `LIVE` cannot be read, so that a gateway without its feed does not start.
 */
export const startLiveTail = async (deps: LiveTailDeps): Promise<LiveTail> => {
  const { js, jsm, settings, checks, log, metrics } = deps;
  const hub = createLiveHub(await readLiveEnd(jsm));
  const replays: ReplaySource = natsReplaySource(js, Math.floor(settings.maxBufferedBytes / 2));
  const upstream = createUpstreamWatch((from, to) => {
    metrics?.eventsMissing(to - from + 1);
    log.warn(
      { eventsFrom: from, eventsTo: to, missing: to - from + 1 },
      "events stored in EVENTS never reached LIVE: no live-tail client gets them",
    );
  });
  const feed = await keepFollowingLive(
    js,
    () => hub.head,
    (msg) => {
      upstream.observe(Number(msg.headers?.get("Nats-Sequence") || Number.NaN));
      hub.publish(msg.seq, decodeLiveEvent(msg.data));
    },
    log,
  );
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

  const place = async (session: LiveSession, after: number | undefined): Promise<void> => {
    if (after === undefined) return hub.join(session);
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
    open(socket, principal, query) {
      const session = createLiveSession({
        socket,
        principal,
        minCriticality: query.minCriticality,
        maxBufferedBytes: settings.maxBufferedBytes,
        events: metrics,
      });
      // Connections upgraded together may all have passed the count before the upgrade.
      if (hub.size >= settings.maxClients) {
        session.end("TRY_AGAIN_LATER");
        return session;
      }
      hub.add(session);
      expireWithToken(session, principal.expiresAt);
      const placed: Promise<void> = place(session, query.after)
        .catch((err: unknown) => {
          if (session.closed) return;
          log.warn({ err, after: query.after }, "cannot replay LIVE for a live-tail client");
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
