import { JetStreamApiError } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type ConfirmedPublish, createConfirmedPublish, createInboxRequests, type InboxRequests } from "@vigil/runtime";
import { type NatsServer, startNatsServer } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRateCounters, RateCounterError, type RateCounters } from "./rate-counters.js";

describe("rate counters in a key-value bucket, read and written without the key-value client", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let requests: InboxRequests;
  let publisher: ConfirmedPublish;
  let kv: KV;
  let counters: RateCounters;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    requests = createInboxRequests(nc);
    publisher = createConfirmedPublish(nc);
    kv = await new Kvm(nc).create("rate-counters-test", { ttl: 120_000 });
    counters = await openRateCounters(kv, { requests, publisher, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    requests?.close();
    publisher?.close();
    await nc?.close();
    await nats?.dispose();
  });

  it("reads a key that has no count as 0 at revision 0", async () => {
    expect(await counters.read("key.absent.1")).toEqual({ count: 0, revision: 0 });
  });

  it("writes what the key-value client reads, at the revision it reports, and reads what it writes", async () => {
    await counters.write("key.a.1", 7, 0);
    const entry = await kv.get("key.a.1");
    expect([entry?.operation, entry?.string()]).toEqual(["PUT", "7"]);
    expect(await counters.read("key.a.1")).toEqual({ count: 7, revision: entry?.revision });
    const revision = await kv.put("key.a.1", "12");
    expect(await counters.read("key.a.1")).toEqual({ count: 12, revision });
  });

  it("refuses a write at a revision that is no longer the key's latest, as KV.update does, and keeps the count", async () => {
    await counters.write("key.b.1", 1, 0);
    const { revision } = await counters.read("key.b.1");
    await counters.write("key.b.1", 2, revision);
    const stale = counters.write("key.b.1", 3, revision);
    await expect(stale).rejects.toBeInstanceOf(JetStreamApiError);
    await expect(stale).rejects.toMatchObject({ code: 10071 });
    // A second "first" write loses too: the key exists.
    await expect(counters.write("key.b.1", 9, 0)).rejects.toMatchObject({ code: 10071 });
    expect((await counters.read("key.b.1")).count).toBe(2);
  });

  it("reads a deleted key as 0 at its marker's revision, which the next write follows", async () => {
    await counters.write("key.c.1", 5, 0);
    await kv.delete("key.c.1");
    const read = await counters.read("key.c.1");
    expect(read.count).toBe(0);
    expect(read.revision).toBeGreaterThan(0);
    await counters.write("key.c.1", 1, read.revision);
    expect((await kv.get("key.c.1"))?.string()).toBe("1");
  });

  it("refuses a key that is not a single plain key-value key", async () => {
    for (const key of ["key.*.1", "key.>", "key a", ".key", "key..1", ""]) {
      await expect(counters.read(key)).rejects.toBeInstanceOf(RateCounterError);
      await expect(counters.write(key, 1, 0)).rejects.toBeInstanceOf(RateCounterError);
    }
  });

  it("refuses a bucket that does not answer direct gets", async () => {
    const indirect = await new Kvm(nc).create("rate-counters-indirect", { allow_direct: false });
    await expect(openRateCounters(indirect, { requests, publisher, timeoutMs: 5_000 })).rejects.toThrow(
      /does not allow direct gets/,
    );
  });
});
