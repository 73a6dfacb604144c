/**
 * The live tail's client side, without the DOM or a socket: which URL to open, what each frame and
 * each close code means for the page, and the cursor to resume from. README, "Live tail", is the
 * protocol this follows.
 */

/** An event as the gateway sends it (the contract's `SecurityEvent`). */
export interface LiveEvent {
  readonly id: string;
  readonly criticality: number;
  readonly timestamp: string;
  readonly eventMessage: string;
  readonly source?: string;
}

/** Frames the gateway sends. */
export type ServerFrame =
  | { readonly type: "event"; readonly cursor: number; readonly event: LiveEvent }
  | { readonly type: "heartbeat" }
  | { readonly type: "pong" }
  | { readonly type: "gap"; readonly from: number; readonly to: number; readonly missed: number };

/** What the page shows about the connection. */
export type LiveStatus =
  | { readonly kind: "connecting" }
  | { readonly kind: "live" }
  | { readonly kind: "resumed"; readonly missed: number }
  | { readonly kind: "reconnecting"; readonly why: string }
  | { readonly kind: "signed-out"; readonly why: string };

/** What to do after the socket closed with `code`. */
export type CloseAction =
  | { readonly kind: "reconnect"; readonly fresh: boolean }
  | { readonly kind: "refresh-then-reconnect" }
  | { readonly kind: "sign-out" };

/** The sub-protocol of the live tail and the entry that carries the access token. */
export const LIVE_PROTOCOL = "vigil.live.v1";
export const protocolsFor = (accessToken: string): string[] => [LIVE_PROTOCOL, `bearer.${accessToken}`];

/** `ws(s)://<host>/v1/live?minCriticality=N[&after=C]` for a page served from `pageUrl`. */
export const liveUrl = (pageUrl: string, minCriticality: number, after: number | undefined): string => {
  const url = new URL("/v1/live", pageUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("minCriticality", String(minCriticality));
  if (after !== undefined) url.searchParams.set("after", String(after));
  return url.toString();
};

/** Waits between reconnection attempts: 0.5 s, 1 s, 2 s … up to 10 s. */
export const reconnectDelayMs = (attempt: number): number => Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));

/** The close codes of README's table, as actions. */
export const closeAction = (code: number): CloseAction => {
  switch (code) {
    case 4001:
      return { kind: "refresh-then-reconnect" };
    case 4002:
    case 4003:
      return { kind: "sign-out" };
    case 4005:
      return { kind: "reconnect", fresh: true };
    default:
      // 4004 (too slow), 1001 (gateway stopping), 1013 (feed unavailable), 1006 (connection lost), …
      return { kind: "reconnect", fresh: false };
  }
};

/**
 * The cursor bookkeeping of one page: the last cursor received (where a reconnection resumes),
 * and whether the current connection is a resumption. Events at or below the last cursor are
 * dropped, so a resumption never shows one twice.
 */
export const createLiveFeed = () => {
  let lastCursor: number | undefined;
  let resuming = false;
  let missed = 0;
  return {
    /**
     * The URL of the next connection: after the last cursor unless `fresh`. A `resumption` (after a
     * lost connection) is announced as such once open; a new filter continues without a word.
     */
    nextUrl(pageUrl: string, minCriticality: number, fresh: boolean, resumption: boolean): string {
      if (fresh) lastCursor = undefined;
      resuming = resumption && lastCursor !== undefined;
      missed = 0;
      return liveUrl(pageUrl, minCriticality, lastCursor);
    },
    /** The status once the socket opened. */
    opened(): LiveStatus {
      return resuming ? { kind: "resumed", missed: 0 } : { kind: "live" };
    },
    /** Reads one frame; returns the event to show, the status to show, or nothing. */
    receive(frame: ServerFrame): { event?: LiveEvent; status?: LiveStatus } {
      if (frame.type === "event") {
        if (lastCursor !== undefined && frame.cursor <= lastCursor) return {};
        lastCursor = frame.cursor;
        return { event: frame.event };
      }
      if (frame.type === "gap") {
        missed += frame.missed;
        lastCursor = Math.max(lastCursor ?? 0, frame.to);
        return { status: { kind: "resumed", missed } };
      }
      return {};
    },
    cursor: (): number | undefined => lastCursor,
  };
};
export type LiveFeed = ReturnType<typeof createLiveFeed>;

/** Parses a text frame; anything that is not a known frame is ignored (`undefined`). */
export const parseFrame = (text: string): ServerFrame | undefined => {
  try {
    const frame = JSON.parse(text) as { type?: unknown };
    return frame.type === "event" || frame.type === "heartbeat" || frame.type === "gap" || frame.type === "pong"
      ? (frame as ServerFrame)
      : undefined;
  } catch {
    return undefined;
  }
};
