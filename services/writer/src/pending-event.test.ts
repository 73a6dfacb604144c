import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deliveryOf, readDelivery } from "./pending-event.js";

describe("readDelivery", () => {
  it("reads the short form of a JetStream reply subject", () => {
    expect(readDelivery("$JS.ACK.EVENTS.writer.3.1042.977.1763946000123456789.25")).toEqual({
      sequence: 1042,
      deliveryCount: 3,
    });
  });

  it("reads the long form, with domain, account hash and a trailing token", () => {
    expect(readDelivery("$JS.ACK._.AHASH.EVENTS.writer.1.7.7.1763946000123456789.0.x9Yz")).toEqual({
      sequence: 7,
      deliveryCount: 1,
    });
    expect(readDelivery("$JS.ACK.hub.AHASH.EVENTS.writer.2.8.9.1763946000123456789.0")).toEqual({
      sequence: 8,
      deliveryCount: 2,
    });
  });

  it.each([
    ["a subject that is not a JetStream acknowledgement", "_INBOX.abc.def"],
    ["ten tokens, neither form", "$JS.ACK.a.b.EVENTS.writer.1.7.7.0"],
    ["a sequence that is not a number", "$JS.ACK.EVENTS.writer.1.x7.7.0.0"],
    ["an empty delivery count", "$JS.ACK.EVENTS.writer..7.7.0.0"],
    ["a sequence of zero", "$JS.ACK.EVENTS.writer.1.0.7.0.0"],
    ["a prefix only", "$JS.ACK."],
  ])("has nothing to say about %s", (_label, subject) => {
    expect(readDelivery(subject)).toBeUndefined();
  });

  it("reads back the numbers of any subject in either form", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/);
    const positive = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.tuple(name, name, name, name, name),
        positive,
        positive,
        fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
        (long, [domain, hash, stream, consumer, token], sequence, deliveryCount, [dseq, nanos, pending]) => {
          const tail = `${stream}.${consumer}.${deliveryCount}.${sequence}.${dseq}.${nanos}.${pending}`;
          const subject = long ? `$JS.ACK.${domain}.${hash}.${tail}.${token}` : `$JS.ACK.${tail}`;
          expect(readDelivery(subject)).toEqual({ sequence, deliveryCount });
        },
      ),
    );
  });
});

describe("deliveryOf", () => {
  it("reads a message's reply subject rather than its parsed delivery info", () => {
    const msg = {
      reply: "$JS.ACK.EVENTS.writer.2.99.98.1763946000123456789.0",
      get seq(): number {
        throw new Error("the reply subject was not read");
      },
      get info(): { deliveryCount: number } {
        throw new Error("the reply subject was not read");
      },
    };
    expect(deliveryOf(msg)).toEqual({ sequence: 99, deliveryCount: 2 });
  });

  it("falls back on the parsed delivery info when there is no reply subject it can read", () => {
    expect(deliveryOf({ seq: 5, info: { deliveryCount: 4 } })).toEqual({ sequence: 5, deliveryCount: 4 });
    const unreadable = { reply: "_INBOX.x", seq: 6, info: { deliveryCount: 1 } };
    expect(deliveryOf(unreadable)).toEqual({ sequence: 6, deliveryCount: 1 });
  });
});
