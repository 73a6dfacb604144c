import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { LatencyObserver, PublisherStats } from "./publisher.js";

/** Latency from an event's first publish attempt to its confirmation, retries included. */
export const createPublishLatency = (registry: Registry): LatencyObserver =>
  new Histogram({
    name: "vigil_daemon_publish_latency_seconds",
    help: "Time from an event's first publish attempt until the stream confirmed it, retries included",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

/**
 * Exposes the publisher's counters. They are read from {@link PublisherStats} when scraped, so
 * that the publishing hot path only bumps plain numbers.
 */
export const exposePublisherStats = (registry: Registry, stats: () => PublisherStats): void => {
  const counter = (name: string, help: string, read: (s: PublisherStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  counter("vigil_daemon_events_published_total", "Events generated and handed to JetStream", (s) => s.published);
  counter(
    "vigil_daemon_publish_confirmed_total",
    "Events the stream confirmed as stored (duplicates included)",
    (s) => s.confirmed,
  );
  counter(
    "vigil_daemon_publish_duplicates_total",
    "Confirmations of a retried publish that the stream had already stored",
    (s) => s.duplicates,
  );
  new Counter({
    name: "vigil_daemon_publish_failures_total",
    help: "Publish attempts that failed and will be retried, by reason",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(stats().failures)) this.inc({ reason }, count);
    },
  });
  new Gauge({
    name: "vigil_daemon_in_flight",
    help: "Events published and not yet confirmed",
    registers: [registry],
    collect() {
      this.set(stats().inFlight);
    },
  });
  new Gauge({
    name: "vigil_daemon_stream_full",
    help: "1 while the events stream refuses publishes because it is full",
    registers: [registry],
    collect() {
      this.set(stats().streamFull ? 1 : 0);
    },
  });
};
