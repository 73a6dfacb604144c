import { SecurityEvent } from "@vigil/shared";
import { z } from "zod";

/**
 * The live tail's WebSocket protocol (`GET /v1/live`), as the README specifies it: JSON text frames
 * from the gateway, one kind of frame from the client, and the close codes that end a connection.
 */

/** Sub-protocol the gateway selects when a client offers it (browsers passing a token must). */
export const LIVE_PROTOCOL = "vigil.live.v1";

/** Prefix of the `Sec-WebSocket-Protocol` entry that carries an access token: `bearer.<accessToken>`. */
export const TOKEN_PROTOCOL_PREFIX = "bearer.";

/** Largest frame a client may send; larger ones close the connection with 1009 (ws's own check). */
export const MAX_CLIENT_FRAME_BYTES = 1_024;

/** A cursor: the event's sequence in the stream `LIVE`, the same on every gateway. */
export const Cursor = z.int().min(1).max(Number.MAX_SAFE_INTEGER);

/** One event above the client's `minCriticality`, with the cursor to resume after it. */
export const LiveEventFrame = z.object({ type: z.literal("event"), cursor: Cursor, event: SecurityEvent });
export type LiveEventFrame = z.infer<typeof LiveEventFrame>;

/** Sent when no other frame went out during one heartbeat interval. */
export const LiveHeartbeatFrame = z.object({ type: z.literal("heartbeat") });

/**
 * The events with cursors `from` to `to` (inclusive) will never be delivered: they left the
 * window before this connection reached them. `missed` counts all of them, whatever their
 * criticality (the gateway no longer knows it).
 */
export const LiveGapFrame = z.object({ type: z.literal("gap"), from: Cursor, to: Cursor, missed: z.int().min(1) });
export type LiveGapFrame = z.infer<typeof LiveGapFrame>;

/** The answer to a client's `{"type":"ping"}`. */
export const LivePongFrame = z.object({ type: z.literal("pong") });

/** Every frame the gateway sends. */
export const LiveServerFrame = z.discriminatedUnion("type", [
  LiveEventFrame,
  LiveHeartbeatFrame,
  LiveGapFrame,
  LivePongFrame,
]);
export type LiveServerFrame = z.infer<typeof LiveServerFrame>;
export type LiveFrameType = LiveServerFrame["type"];

/** The one frame a client may send: `{"type":"ping"}`, answered `{"type":"pong"}`. */
export const LivePingFrame = z.object({ type: z.literal("ping") }).strict();

/** Why the gateway ended a connection; each has its close code and a reason text. */
export type LiveCloseReason = keyof typeof LIVE_CLOSE;

/**
 * The close codes of the live tail and their reasons (at most 123 bytes each, as WebSocket
 * allows). Codes 4000-4999 are the application's; 1001 and 1013 are WebSocket's own.
 */
export const LIVE_CLOSE = {
  BAD_FRAME: { code: 4000, reason: 'BAD_FRAME: the client may send only {"type":"ping"} text frames' },
  TOKEN_EXPIRED: {
    code: 4001,
    reason: "TOKEN_EXPIRED: refresh the access token and reconnect with after=<last cursor>",
  },
  SESSION_REVOKED: {
    code: 4002,
    reason: "SESSION_REVOKED: signed out (logout, or a refresh token reused); sign in again",
  },
  ROLE_CHANGED: { code: 4003, reason: "ROLE_CHANGED: the caller's role no longer allows the live tail" },
  TOO_SLOW: {
    code: 4004,
    reason: "TOO_SLOW: frames waited beyond the bound; read faster, reconnect with after=<last cursor>",
  },
  CURSOR_UNKNOWN: {
    code: 4005,
    reason: "CURSOR_UNKNOWN: after is beyond the newest event (LIVE was recreated); reconnect without after",
  },
  GOING_AWAY: { code: 1001, reason: "GOING_AWAY: the gateway is stopping; reconnect with after=<last cursor>" },
  TRY_AGAIN_LATER: {
    code: 1013,
    reason: "TRY_AGAIN_LATER: the live feed is unavailable; reconnect with after=<last cursor> later",
  },
} as const satisfies Record<string, { code: number; reason: string }>;

/** What a client's frame was, as far as the gateway is concerned. */
export type ClientFrame = { readonly ok: true; readonly type: "ping" } | { readonly ok: false; readonly why: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads one frame from a client: a `{"type":"ping"}` text frame, or the reason it is not one. */
export const parseClientFrame = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ClientFrame => {
  if (isBinary) return { ok: false, why: "binary frame" };
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch {
    return { ok: false, why: "not UTF-8 JSON" };
  }
  return LivePingFrame.safeParse(json).success ? { ok: true, type: "ping" } : { ok: false, why: "not a ping frame" };
};

/**
 * A frame as the bytes of a text frame, in memory of their own rather than a slice of Node's
 * shared 8 KiB pool: the gateway keeps the newest event frames for resuming clients, and a pooled
 * slice would keep its whole slab alive (about 2.9 KB a kept event against 2.3 KB, in a probe).
 */
export const encodeFrame = (frame: LiveServerFrame): Buffer => {
  const json = JSON.stringify(frame);
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(json));
  bytes.write(json);
  return bytes;
};

/** The gap frame for the cursors `from` to `to`, inclusive. */
export const gapFrame = (from: number, to: number): LiveGapFrame => ({ type: "gap", from, to, missed: to - from + 1 });

export const HEARTBEAT = encodeFrame({ type: "heartbeat" });
export const PONG = encodeFrame({ type: "pong" });
