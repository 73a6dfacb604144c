import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createLiveHub } from "./live-hub.js";
import { createLiveMetrics } from "./live-metrics.js";
import { createLiveSession } from "./live-session.js";
import { event, fakeSocket, viewer } from "./live-socket.fixture.js";

describe("the live tail's metrics", () => {
  it("count connected clients, frames sent by type, and clients closed for being slow", async () => {
    const registry = new Registry();
    const hub = createLiveHub(0);
    const metrics = createLiveMetrics(registry, () => hub.size);
    const open = (maxBufferedBytes: number) => {
      const client = fakeSocket();
      const session = createLiveSession({
        socket: client.socket,
        principal: viewer,
        minCriticality: undefined,
        maxBufferedBytes,
        events: metrics,
      });
      hub.add(session);
      hub.join(session);
      return client;
    };
    const fast = open(1_048_576);
    open(100);
    hub.publish(1, event(3));
    hub.tick();
    hub.tick();
    fast.read();
    const value = async (name: string, labels: Record<string, string> = {}) =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) =>
        Object.entries(labels).every(([key, want]) => v.labels[key] === want),
      )?.value;
    expect(await value("vigil_gateway_live_clients")).toBe(1);
    expect(await value("vigil_gateway_live_frames_sent_total", { type: "event" })).toBe(1);
    expect(await value("vigil_gateway_live_frames_sent_total", { type: "heartbeat" })).toBe(1);
    expect(await value("vigil_gateway_live_closed_total", { reason: "too_slow" })).toBe(1);
    expect(await value("vigil_gateway_live_closed_total", { reason: "token_expired" })).toBe(0);
  });
});
