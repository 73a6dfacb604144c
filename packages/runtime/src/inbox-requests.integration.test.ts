import { headers, type NatsConnection, NoRespondersError, TimeoutError } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type NatsServer, startNatsServer } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInboxRequests, InboxRequestsClosedError } from "./inbox-requests.js";

const text = (value: string) => new TextEncoder().encode(value);
const reversed = (value: string) => [...value].reverse().join("");

describe("requests over one wildcard inbox", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    // Answers with the request's payload and its `probe` header, reversed.
    nc.subscribe("echo", {
      callback: (_err, msg) => {
        const answer = headers();
        answer.set("probe", msg.headers?.get("probe") ?? "");
        msg.respond(reversed(msg.string()), { headers: answer });
      },
    });
    // Answers with a status only, as JetStream's direct get does for a missing message.
    nc.subscribe("status", {
      callback: (_err, msg) => {
        msg.respond(new Uint8Array(), { headers: headers(404, "Message Not Found") });
      },
    });
    // Never answers.
    nc.subscribe("silent", { callback: () => {} });
    await nc.flush();
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  it("resolves each of many requests in flight with its own reply, headers included", async () => {
    const requests = createInboxRequests(nc);
    const probe = headers();
    probe.set("probe", "p-1");
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, n) =>
        requests.request("echo", text(`abc${n}`), { timeout: 5_000, headers: probe }),
      ),
    );
    expect(replies.map((reply) => reply.string())).toEqual(Array.from({ length: 200 }, (_, n) => reversed(`abc${n}`)));
    expect(replies.every((reply) => reply.headers?.get("probe") === "p-1")).toBe(true);
    requests.close();
  });

  it("resolves with a status reply, which the caller reads", async () => {
    const requests = createInboxRequests(nc);
    const reply = await requests.request("status", new Uint8Array(), { timeout: 5_000 });
    expect([reply.data.length, reply.headers?.code, reply.headers?.description]).toEqual([0, 404, "Message Not Found"]);
    requests.close();
  });

  it("rejects with NoRespondersError when no one listens, and TimeoutError when no one answers", async () => {
    const requests = createInboxRequests(nc, { sweepMs: 20 });
    await expect(requests.request("nobody.listens", text("x"), { timeout: 5_000 })).rejects.toBeInstanceOf(
      NoRespondersError,
    );
    await expect(requests.request("silent", text("x"), { timeout: 100 })).rejects.toBeInstanceOf(TimeoutError);
    requests.close();
  });

  it("fails the waiting requests, and every later one, once closed", async () => {
    const requests = createInboxRequests(nc);
    const waiting = requests.request("silent", text("x"), { timeout: 60_000 });
    requests.close();
    await expect(waiting).rejects.toBeInstanceOf(InboxRequestsClosedError);
    const reason = new Error("shutting down");
    const other = createInboxRequests(nc);
    other.close(reason);
    await expect(other.request("echo", text("x"), { timeout: 5_000 })).rejects.toBe(reason);
  });

  it("replies under its inbox prefix, as a user allowed only there needs", async () => {
    const requests = createInboxRequests(nc, { inboxPrefix: "_INBOX_probe" });
    const seen: string[] = [];
    const spy = nc.subscribe("_INBOX_probe.>", {
      callback: (_err, msg) => {
        seen.push(msg.subject);
      },
    });
    await nc.flush();
    expect((await requests.request("echo", text("ok"), { timeout: 5_000 })).string()).toBe("ko");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^_INBOX_probe\./);
    spy.unsubscribe();
    requests.close();
  });
});
