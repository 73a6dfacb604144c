import type { LiveSocket } from "./live-session.js";

/** The part of a `ws` WebSocket the live tail sends with. */
export interface FrameSender {
  readonly bufferedAmount: number;
  send(frame: Buffer, options: { binary: false }, written: (err?: Error) => void): void;
  close(code: number, reason: string): void;
}

/** The part of the connection's `net.Socket` that holds writes back and lets them go together. */
export interface CorkableSocket {
  readonly writableLength: number;
  cork(): void;
  uncork(): void;
}

/**
 * A `ws` socket as a live session sends on it, text frames from ready-made bytes, with the frames
 * of one turn of the event loop written to the kernel together: the socket is corked at the
 * turn's first frame and uncorked once the turn's I/O is done (`setImmediate`), so a client costs
 * one system call per turn instead of one per frame, which is what fanning every event out to
 * thousands of clients spent most of its time on (bench/live.ts). Held frames count in
 * `bufferedAmount` like any other; once `flushBytes` are held they go at once, so holding them
 * never brings a client near its bound.
 */
export const coalescedLiveSocket = (ws: FrameSender, raw: CorkableSocket, flushBytes: number): LiveSocket => {
  let corked = false;
  const release = () => {
    corked = false;
    raw.uncork();
  };
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(frame, written) {
      if (!corked) {
        corked = true;
        raw.cork();
        setImmediate(release);
      }
      ws.send(frame, { binary: false }, written);
      if (raw.writableLength >= flushBytes) {
        raw.uncork();
        raw.cork();
      }
    },
    close: (code, reason) => ws.close(code, reason),
  };
};
