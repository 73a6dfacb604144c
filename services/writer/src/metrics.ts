import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The writer's Prometheus metrics. */
export interface WriterMetrics {
  readonly received: Counter;
  readonly written: Counter;
  readonly deadLettered: Counter<"code">;
  readonly deadLetterFailures: Counter;
  readonly redelivered: Counter;
  readonly batchSize: Histogram;
  readonly writeDuration: Histogram;
  readonly writeFailures: Counter<"reason">;
  readonly consumerPending: Gauge;
}

/** Registers the writer's metrics on `registry`; call once per registry. */
export const createWriterMetrics = (registry: Registry): WriterMetrics => {
  const registers = [registry];
  return {
    received: new Counter({
      name: "vigil_writer_events_received_total",
      help: "Messages taken from the events consumer, valid or not.",
      registers,
    }),
    written: new Counter({
      name: "vigil_writer_events_written_total",
      help: "Events InfluxDB confirmed and the writer acknowledged.",
      registers,
    }),
    deadLettered: new Counter({
      name: "vigil_writer_events_dead_lettered_total",
      help: "Messages that can never be stored, recorded on the dead-letter stream, by reason code.",
      labelNames: ["code"] as const,
      registers,
    }),
    deadLetterFailures: new Counter({
      name: "vigil_writer_dead_letter_failures_total",
      help: "Dead-letter publishes JetStream did not confirm; the message is handed back and retried.",
      registers,
    }),
    redelivered: new Counter({
      name: "vigil_writer_events_redelivered_total",
      help: "Messages delivered more than once (a writer stopped, or an acknowledgement was lost).",
      registers,
    }),
    batchSize: new Histogram({
      name: "vigil_writer_batch_size",
      help: "Events per batch sent to InfluxDB.",
      buckets: [1, 10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000],
      registers,
    }),
    writeDuration: new Histogram({
      name: "vigil_writer_write_duration_seconds",
      help: "Time InfluxDB took to confirm a write, successful writes only.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    writeFailures: new Counter({
      name: "vigil_writer_write_failures_total",
      help: "InfluxDB writes that failed: unavailable (retried) or rejected (batch bisected).",
      labelNames: ["reason"] as const,
      registers,
    }),
    consumerPending: new Gauge({
      name: "vigil_writer_consumer_pending",
      help: "Events in the stream not yet delivered to any writer (consumer num_pending), polled.",
      registers,
    }),
  };
};
