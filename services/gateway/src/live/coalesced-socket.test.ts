import { Writable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { coalescedLiveSocket, type FrameSender } from "./coalesced-socket.js";

/** A socket that records each write it hands on (one per system call on a real one). */
const recordingSocket = () => {
  const writes: string[][] = [];
  const raw = new Writable({
    writev(chunks, done) {
      writes.push(chunks.map(({ chunk }) => String(chunk)));
      done();
    },
    write(chunk, _encoding, done) {
      writes.push([String(chunk)]);
      done();
    },
  });
  // As ws sends a frame: straight onto the socket, the callback once written.
  const ws: FrameSender = {
    get bufferedAmount() {
      return raw.writableLength;
    },
    send: (frame, _options, written) => raw.write(frame, () => written()),
    close: () => undefined,
  };
  return { raw, ws, writes };
};

describe("coalescedLiveSocket", () => {
  it("writes the frames of one turn together, once the turn is over", async () => {
    const { raw, ws, writes } = recordingSocket();
    const socket = coalescedLiveSocket(ws, raw, 16_384);
    const written: string[] = [];
    for (const frame of ["a", "b", "c"]) socket.send(Buffer.from(frame), () => written.push(frame));
    expect(writes).toEqual([]);
    expect(socket.bufferedAmount).toBe(3);
    await nextTurn();
    expect(writes).toEqual([["a", "b", "c"]]);
    expect(written).toEqual(["a", "b", "c"]);
    socket.send(Buffer.from("d"), () => written.push("d"));
    await nextTurn();
    expect(writes).toEqual([["a", "b", "c"], ["d"]]);
    expect(written).toEqual(["a", "b", "c", "d"]);
  });

  it("lets the held frames go at once when they reach the flush size", async () => {
    const { raw, ws, writes } = recordingSocket();
    const socket = coalescedLiveSocket(ws, raw, 4);
    for (const frame of ["ab", "cd", "ef"]) socket.send(Buffer.from(frame), () => undefined);
    expect(writes).toEqual([["ab", "cd"]]);
    await nextTurn();
    expect(writes).toEqual([["ab", "cd"], ["ef"]]);
    expect(raw.writableCorked).toBe(0);
  });
});
