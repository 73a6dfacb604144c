import { deferred } from "@nats-io/nats-core";
import { waitFor } from "@vigil/testing";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { HeldMessage } from "./pending-event.js";
import { type PulledMessages, type PullSource, startPuller } from "./puller.js";

const log = pino({ level: "silent" });
const settings = { pullBatch: 10, expiresMs: 60_000, retry: { initialMs: 1, maxMs: 2 } };

const message = (seq: number) => {
  const settled: string[] = [];
  const msg: HeldMessage = {
    seq,
    subject: "events",
    data: new Uint8Array(),
    info: { deliveryCount: 1 },
    ack: () => settled.push("ack"),
    nak: () => settled.push("nak"),
    working: () => {},
  };
  return { msg, settled };
};

/** A pull request the test feeds message by message, and ends when it says so. */
const manualPull = () => {
  const queue: HeldMessage[] = [];
  let wake = deferred<void>();
  let ended = false;
  let closed = false;
  const messages: PulledMessages = {
    async *[Symbol.asyncIterator]() {
      while (true) {
        const next = queue.shift();
        if (next !== undefined) yield next;
        else if (ended) return;
        else {
          await wake;
          wake = deferred<void>();
        }
      }
    },
    async close() {
      closed = true;
    },
  };
  return {
    messages,
    deliver(msg: HeldMessage) {
      queue.push(msg);
      wake.resolve();
    },
    end() {
      ended = true;
      wake.resolve();
    },
    closed: () => closed,
  };
};

/** Records each fetch and hands out the pulls the test made, in order. */
const manualSource = () => {
  const requests: { max_messages: number; pull: ReturnType<typeof manualPull> }[] = [];
  const source: PullSource = {
    fetch: async (options) => {
      const pull = manualPull();
      requests.push({ max_messages: options.max_messages, pull });
      return pull.messages;
    },
  };
  return { source, requests };
};

/** A puller that always has room and never needs to recover. */
const startRoomyPuller = (source: PullSource, accept: (msg: HeldMessage) => void) =>
  startPuller(
    { source, room: () => 100, nextWriteFinished: () => new Promise(() => {}), accept, recover: async () => {}, log },
    settings,
  );

describe("startPuller", () => {
  it("asks for no more than there is room for, and waits for a write to finish when there is none", async () => {
    const { source, requests } = manualSource();
    let room = 4;
    let writeFinished = deferred<void>();
    const accepted: number[] = [];
    const puller = startPuller(
      {
        source,
        room: () => room,
        nextWriteFinished: () => writeFinished,
        accept: (msg) => accepted.push(msg.seq),
        recover: async () => {},
        log,
      },
      settings,
    );
    await waitFor("the first pull", () => requests.length === 1);
    expect(requests[0]?.max_messages).toBe(4);
    for (const seq of [1, 2, 3, 4]) requests[0]?.pull.deliver(message(seq).msg);
    room = 0;
    requests[0]?.pull.end();
    await waitFor("the pulled messages", () => accepted.length === 4);
    expect(requests).toHaveLength(1);
    room = 25;
    writeFinished.resolve();
    await waitFor("a pull once there is room", () => requests.length === 2);
    expect(requests[1]?.max_messages).toBe(settings.pullBatch);
    writeFinished = deferred<void>();
    const stopping = puller.stop(60_000);
    requests[1]?.pull.end();
    await stopping;
    await puller.finished;
    expect(accepted).toEqual([1, 2, 3, 4]);
  });

  it("on stop lets the pull in progress end and batches what it brings", async () => {
    const { source, requests } = manualSource();
    const accepted: number[] = [];
    const puller = startRoomyPuller(source, (msg) => accepted.push(msg.seq));
    await waitFor("the first pull", () => requests.length === 1);
    const stopping = puller.stop(60_000);
    requests[0]?.pull.deliver(message(7).msg);
    requests[0]?.pull.end();
    await stopping;
    await puller.finished;
    expect(accepted).toEqual([7]);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.pull.closed()).toBe(false);
  });

  it("cuts a pull short after the grace period and hands back what it still delivers", async () => {
    const { source, requests } = manualSource();
    const accepted: number[] = [];
    const puller = startRoomyPuller(source, (msg) => accepted.push(msg.seq));
    await waitFor("the first pull", () => requests.length === 1);
    await puller.stop(1);
    expect(requests[0]?.pull.closed()).toBe(true);
    const late = message(8);
    requests[0]?.pull.deliver(late.msg);
    requests[0]?.pull.end();
    await puller.finished;
    expect(accepted).toEqual([]);
    expect(late.settled).toEqual(["nak"]);
  });

  it("after a failed pull recovers the topology, backs off and pulls again", async () => {
    let fetches = 0;
    let recovered = 0;
    const { source: working, requests } = manualSource();
    const source: PullSource = {
      fetch: async (options) => {
        if (++fetches <= 2) throw new Error("consumer not found");
        return working.fetch(options);
      },
    };
    const puller = startPuller(
      {
        source,
        room: () => 100,
        nextWriteFinished: () => new Promise(() => {}),
        accept: () => {},
        recover: async () => {
          recovered++;
        },
        log,
      },
      settings,
    );
    await waitFor("a pull after the failures", () => requests.length === 1);
    expect(recovered).toBe(2);
    const stopping = puller.stop(60_000);
    requests[0]?.pull.end();
    await stopping;
    await puller.finished;
  });
});
