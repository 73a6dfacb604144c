import { Counter, Gauge, type Registry } from "prom-client";
import { LIVE_CLOSE, type LiveFrameType } from "./frames.js";
import type { LiveEndReason, LiveSessionEvents } from "./live-session.js";

/** What the live tail reports to Prometheus. */
export interface LiveMetrics extends LiveSessionEvents {
  /** Events EVENTS stored whose copy never reached `LIVE`. */
  eventsMissing(count: number): void;
}

const FRAME_TYPES: readonly LiveFrameType[] = ["event", "heartbeat", "gap", "pong"];

/** Registers the live tail's metrics on `registry`; `clients` is read when scraped. */
export const createLiveMetrics = (registry: Registry, clients: () => number): LiveMetrics => {
  new Gauge({
    name: "vigil_gateway_live_clients",
    help: "Live-tail WebSocket connections open now (replaying or following the shared feed).",
    registers: [registry],
    collect() {
      this.set(clients());
    },
  });
  const frames = new Counter({
    name: "vigil_gateway_live_frames_sent_total",
    help: "Frames sent to live-tail clients, by type (event, heartbeat, gap, pong).",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  const closed = new Counter({
    name: "vigil_gateway_live_closed_total",
    help: "Live-tail connections ended, by reason; too_slow counts clients closed for not reading fast enough.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const missing = new Counter({
    name: "vigil_gateway_live_events_missing_total",
    help: "Events EVENTS stored whose republished copy never reached the stream LIVE, so no live-tail client gets them.",
    registers: [registry],
  });
  // Zero-valued series exist from the start, so rates and alerts work before the first one.
  const byType = new Map(FRAME_TYPES.map((type) => [type, frames.labels({ type })]));
  const reasons: LiveEndReason[] = [...(Object.keys(LIVE_CLOSE) as (keyof typeof LIVE_CLOSE)[]), "CLIENT_CLOSED"];
  const byReason = new Map(reasons.map((reason) => [reason, closed.labels({ reason: reason.toLowerCase() })]));
  for (const counter of [...byType.values(), ...byReason.values()]) counter.inc(0);
  return {
    frameSent: (type) => byType.get(type)?.inc(),
    ended: (reason) => byReason.get(reason)?.inc(),
    eventsMissing: (count) => missing.inc(count),
  };
};
