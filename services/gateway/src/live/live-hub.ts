import type { SecurityEvent } from "@vigil/shared";
import type { LiveCloseReason } from "./frames.js";
import type { LiveSession } from "./live-session.js";
import { createRecentMessages } from "./recent-messages.js";
import { deliverMessage, type LiveMessage } from "./resume.js";

/**
 * The live tail's fan-out within one gateway: the shared feed hands it each message of the stream
 * `LIVE` once, and it passes the message to every session that has joined, encoding each event's
 * frame once for all of them. It keeps the newest messages it handed out, for sessions resuming
 * within them, and knows every open session (joined or still replaying), for heartbeats, session
 * checks and shutdown.
 */
export interface LiveHub {
  /** The newest stream sequence the shared feed has handed out; where a new session starts. */
  readonly head: number;
  /** Open sessions, joined or not. */
  readonly size: number;
  /** Sessions that receive the shared feed. */
  readonly joined: number;
  /** Counts `session` as open until it ends. */
  add(session: LiveSession): void;
  /**
   * From now on, `session` receives the shared feed's messages after its cursor (set to the head
   * when it has none: a session without `after` starts with the next event).
   */
  join(session: LiveSession): void;
  /**
   * Moves the head up to `seq` (never down), for a shared feed that starts again after `seq` once it
   * was stopped. Only while no session is joined (the feed stops only when none is open): a joined
   * session would be told of a gap for messages the stream still has.
   */
  moveHeadTo(seq: number): void;
  /**
   * Hands the stream's message `seq` (`size` bytes of payload) to every joined session, and keeps
   * it among the newest; `event` is undefined for an invalid payload.
   */
  publish(seq: number, event: SecurityEvent | undefined, size?: number): void;
  /**
   * The newest messages handed out, from `seq` on, as many as fit in `maxBytes` of payload (at
   * least one); none when `seq` is not among them.
   */
  recent(seq: number, maxBytes: number): LiveMessage[];
  /** One heartbeat tick for every open session. */
  tick(): void;
  /** Every open session. */
  sessions(): Iterable<LiveSession>;
  /** Ends every open session with `reason`. */
  endAll(reason: LiveCloseReason): void;
}

/**
 * A hub whose shared feed starts after the stream's message `head`, keeping the newest
 * `recentMessages` messages it hands out (none by default).
 */
export const createLiveHub = (head: number, recentMessages = 0): LiveHub => {
  const open = new Set<LiveSession>();
  const joined = new Set<LiveSession>();
  const recent = createRecentMessages(recentMessages);
  let newest = head;
  return {
    get head() {
      return newest;
    },
    get size() {
      return open.size;
    },
    get joined() {
      return joined.size;
    },
    add(session) {
      if (session.closed) return;
      open.add(session);
      session.onEnd(() => {
        open.delete(session);
        joined.delete(session);
      });
    },
    join(session) {
      if (session.closed) return;
      session.cursor ??= newest;
      joined.add(session);
    },
    moveHeadTo(seq) {
      newest = Math.max(newest, seq);
    },
    publish(seq, event, size = 0) {
      // Sessions skip what they had already (a feed that restarted behind its head sends it again).
      newest = Math.max(newest, seq);
      const message: LiveMessage = { seq, event, size };
      for (const session of joined) deliverMessage(session, message);
      recent.add(message);
    },
    recent: (seq, maxBytes) => recent.from(seq, maxBytes),
    tick() {
      for (const session of open) session.tick();
    },
    sessions: () => open,
    endAll(reason) {
      for (const session of [...open]) session.end(reason);
    },
  };
};
