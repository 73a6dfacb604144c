import type { Principal } from "../auth/principal.js";
import type { LiveServerFrame } from "./frames.js";
import type { LiveSocket } from "./live-session.js";

/**
 * A socket for the live tail's unit tests: it keeps what was sent, counts as waiting (the
 * `bufferedAmount`) whatever the client has not read yet, and reads it when told (or at once, for
 * a client that is always `reading`). Not part of the
 * build (tsconfig.json excludes *.fixture.ts).
 */
export const fakeSocket = ({ reading = false }: { readonly reading?: boolean } = {}) => {
  const sent: Buffer[] = [];
  const unread: { bytes: number; written: (err?: Error) => void }[] = [];
  const closes: { code: number; reason: string }[] = [];
  let buffered = 0;
  const socket: LiveSocket = {
    get bufferedAmount() {
      return buffered;
    },
    send(frame, written) {
      sent.push(frame);
      if (reading) {
        queueMicrotask(written);
        return;
      }
      buffered += frame.byteLength;
      unread.push({ bytes: frame.byteLength, written });
    },
    close(code, reason) {
      closes.push({ code, reason });
    },
  };
  return {
    socket,
    /** Every frame sent, as the client would parse it. */
    frames: (): LiveServerFrame[] => sent.map((frame) => JSON.parse(frame.toString()) as LiveServerFrame),
    /** The raw frames, to see whether two sockets were sent the very same bytes. */
    sent,
    closes,
    /** The client reads everything waiting for it. */
    read() {
      for (const { bytes, written } of unread.splice(0)) {
        buffered -= bytes;
        written();
      }
    },
  };
};

/** Cursors of the event frames among `frames`, in order. */
export const eventCursors = (frames: readonly LiveServerFrame[]): number[] =>
  frames.flatMap((frame) => (frame.type === "event" ? [frame.cursor] : []));

export const viewer: Principal = { name: "vic", role: "viewer", via: "token", family: "family-of-vic" };

/** A valid event of `criticality`, as the stream holds it. */
export const eventBytes = (criticality: number, message = "login failed"): Uint8Array =>
  new TextEncoder().encode(JSON.stringify({ criticality, timestamp: "2025-01-01T00:00:00Z", eventMessage: message }));

export const event = (criticality: number) => ({
  criticality,
  timestamp: "2025-01-01T00:00:00Z",
  eventMessage: "login failed",
});
