import type { SecurityEvent } from "@vigil/shared";
import type { Principal } from "../auth/principal.js";
import {
  encodeFrame,
  gapFrame,
  HEARTBEAT,
  LIVE_CLOSE,
  type LiveCloseReason,
  type LiveFrameType,
  PONG,
} from "./frames.js";

/** The part of a `ws` WebSocket a session uses. */
export interface LiveSocket {
  /** Bytes handed to the socket and not yet written to the kernel (ws's `bufferedAmount`). */
  readonly bufferedAmount: number;
  /** Sends one text frame; `written` is called once it has reached the kernel (or failed). */
  send(frame: Buffer, written: (err?: Error) => void): void;
  close(code: number, reason: string): void;
}

/** What a session reports, for the metrics. */
export interface LiveSessionEvents {
  frameSent(type: LiveFrameType): void;
  ended(reason: LiveEndReason): void;
}

/** Settings of one session. */
export interface LiveSessionOptions {
  readonly socket: LiveSocket;
  readonly principal: Principal;
  /** Only events with a criticality strictly above this are sent; all when undefined. */
  readonly minCriticality: number | undefined;
  /** Most bytes that may wait for this client; a frame that would pass it ends the session `TOO_SLOW`. */
  readonly maxBufferedBytes: number;
  readonly events?: LiveSessionEvents | undefined;
}

/** Why a session ended: one of the gateway's close reasons, or the client closed it. */
export type LiveEndReason = LiveCloseReason | "CLIENT_CLOSED";

/**
 * One live-tail connection: what it has been sent up to (its cursor), what it wants (its filter),
 * and how much may wait for it (its bound). Every frame goes through it, so the bound, the order
 * and the absence of duplicates hold whichever path (replay or shared feed) an event comes by.
 */
export interface LiveSession {
  readonly principal: Principal;
  /** The last stream sequence this session has been given or has skipped; undefined until it is placed. */
  cursor: number | undefined;
  readonly closed: boolean;
  /** Whether `event` passes this session's filter (criticality strictly above `minCriticality`). */
  wants(event: SecurityEvent): boolean;
  /**
   * Hands this session the stream's message `seq`: skipped when the session is past it already; a
   * gap frame first when messages between its cursor and `seq` never came; then the event, when
   * there is one (`undefined`: not a valid event) and it passes the filter. `frame` is the event
   * frame when the caller has encoded it already (the shared feed encodes once for every session).
   */
  deliver(seq: number, event: SecurityEvent | undefined, frame?: Buffer): void;
  /** Tells the client that nothing up to `to` will come, when its cursor is before it. */
  gapTo(to: number): void;
  /** One heartbeat tick: a heartbeat frame when nothing was sent since the previous tick. */
  tick(): void;
  /** Answers the client's ping. */
  pong(): void;
  /** Resolves once every frame sent so far has reached the kernel, or the session has ended. */
  drained(): Promise<void>;
  /** Calls `listener` once, when the session ends. */
  onEnd(listener: (reason: LiveEndReason) => void): void;
  /** Ends the session with `reason`'s close code, or notes that the client closed it. */
  end(reason: LiveEndReason): void;
}

export const createLiveSession = (options: LiveSessionOptions): LiveSession => {
  const { socket, maxBufferedBytes, events, minCriticality } = options;
  let closed = false;
  let sentSinceTick = false;
  let unwritten = 0;
  const drainWaiters: (() => void)[] = [];
  const endListeners: ((reason: LiveEndReason) => void)[] = [];
  const releaseDrainWaiters = () => {
    for (const resolve of drainWaiters.splice(0)) resolve();
  };
  // One callback for every frame: the shared feed sends to every session, so no closure per send.
  const written = (): void => {
    unwritten--;
    if (unwritten === 0) releaseDrainWaiters();
  };
  const session: LiveSession = {
    principal: options.principal,
    cursor: undefined,
    get closed() {
      return closed;
    },
    wants: (event) => minCriticality === undefined || event.criticality > minCriticality,
    deliver(seq, event, frame) {
      if (closed || (session.cursor !== undefined && seq <= session.cursor)) return;
      if (session.cursor !== undefined && seq > session.cursor + 1) session.gapTo(seq - 1);
      session.cursor = seq;
      if (event === undefined || !session.wants(event)) return;
      send(frame ?? encodeFrame({ type: "event", cursor: seq, event }), "event");
    },
    gapTo(to) {
      if (closed || session.cursor === undefined || to <= session.cursor) return;
      send(encodeFrame(gapFrame(session.cursor + 1, to)), "gap");
      session.cursor = to;
    },
    tick() {
      if (!sentSinceTick) send(HEARTBEAT, "heartbeat");
      sentSinceTick = false;
    },
    pong: () => send(PONG, "pong"),
    drained: () =>
      unwritten === 0 || closed ? Promise.resolve() : new Promise((resolve) => drainWaiters.push(resolve)),
    onEnd: (listener) => {
      endListeners.push(listener);
    },
    end(reason) {
      if (closed) return;
      closed = true;
      if (reason !== "CLIENT_CLOSED") socket.close(LIVE_CLOSE[reason].code, LIVE_CLOSE[reason].reason);
      releaseDrainWaiters();
      events?.ended(reason);
      for (const listener of endListeners.splice(0)) listener(reason);
    },
  };
  const send = (frame: Buffer, type: LiveFrameType): void => {
    if (closed) return;
    if (socket.bufferedAmount + frame.byteLength > maxBufferedBytes) {
      session.end("TOO_SLOW");
      return;
    }
    sentSinceTick = true;
    unwritten++;
    socket.send(frame, written);
    events?.frameSent(type);
  };
  return session;
};
