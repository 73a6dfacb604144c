/**
 * `pnpm build && node --import tsx bench/writer-drain.ts [--events N] [--runs R] [--through-gate] [--node-options="..."] [--env NAME=VALUE]...`
 *
 * The real writer process (`services/writer/dist/main.js`) draining a backlog of N events (default
 * 200,000) prefilled into a fresh stream on a fresh nats-server, into a fresh InfluxDB database (the
 * server versions compose pins, as in `pnpm bench`).
 * Reports events per second and the writer's CPU microseconds per event, both counted from the
 * moment the writer is ready, so that start-up is left out. `--node-options` is handed to the
 * writer as NODE_OPTIONS (e.g. "--max-semi-space-size=64"); each `--env` sets one more of its
 * variables (e.g. WRITER_BATCH_SIZE=2000). `--through-gate` puts the built influx-gate
 * (`services/influx-gate/dist/main.js`) between the writer and InfluxDB, as compose does, and also
 * reports the gate's CPU per event and peak memory. The InfluxDB is the one `VIGIL_INFLUXDB` names
 * (`2` with `INFLUXD2_BIN` for the version compose runs).
 */
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createLogger, EventsStreamEnv, ensureEventsStream } from "@vigil/runtime";
import { EVENTS_SUBJECT, encodeEvent } from "@vigil/shared";
import { serviceEnv, startInfluxd, startInfluxGate, startNatsServer, startService, waitFor } from "@vigil/testing";
import { ensureWriterConsumer, WriterConsumerEnv, writerConsumerSettings } from "@vigil/writer";
import { syntheticEvent } from "./fixtures.js";
import { cpuMicros, peakRssBytes } from "./process-stats.js";
import { shippedServers } from "./servers.js";
import { summarise } from "./stats.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    runs: { type: "string", default: "1" },
    "through-gate": { type: "boolean", default: false },
    "node-options": { type: "string", default: "" },
    env: { type: "string", multiple: true, default: [] },
  },
});
const events = Number(values.events);
const runs = Number(values.runs);
const throughGate = values["through-gate"];
const nodeOptions = values["node-options"];
const writerEnv: Record<string, string> = Object.fromEntries(
  values.env.map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
);
if (nodeOptions !== "") writerEnv.NODE_OPTIONS = nodeOptions;
const settingsNote = Object.entries(writerEnv)
  .map(([name, value]) => `${name}=${value}`)
  .join(" ");
/** Publishes not yet confirmed while prefilling. */
const PREFILL_IN_FLIGHT = 2_000;
const WRITTEN = "vigil_writer_events_written_total";

interface DrainFigures {
  readonly eventsPerSecond: number;
  readonly cpuMicrosPerEvent: number;
  readonly peakRssMiB: number;
  /** The influx-gate's, with `--through-gate`. */
  readonly gate?: { readonly cpuMicrosPerEvent: number; readonly peakRssMiB: number };
}

const drainOnce = async (influxd: Awaited<ReturnType<typeof startInfluxd>>, run: number): Promise<DrainFigures> => {
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const log = createLogger("bench", "silent");
    await ensureEventsStream(jsm, EventsStreamEnv.parse({}), log);
    await ensureWriterConsumer(jsm, writerConsumerSettings(WriterConsumerEnv.parse({})), log);
    const js = jetstream(nc);
    const pending = new Set<Promise<unknown>>();
    const at = Date.now();
    for (let i = 0; i < events; i++) {
      const ack = js.publish(EVENTS_SUBJECT, encodeEvent(syntheticEvent(i, at + i))).finally(() => pending.delete(ack));
      pending.add(ack);
      if (pending.size >= PREFILL_IN_FLIGHT) await Promise.race(pending);
    }
    await Promise.all(pending);

    const database = `drain_${run}`;
    await influxd.createDatabase(database);
    const gate = throughGate ? await startInfluxGate(influxd.config("writer", database)) : undefined;
    const storage = gate?.config ?? influxd.config("writer", database);
    const writer = await startService("writer", serviceEnv(nats.url, storage, writerEnv));
    try {
      const gatePid = gate?.service.pid;
      const [written0, cpu0, gateCpu0, t0] = [
        await writer.metric(WRITTEN),
        cpuMicros(writer.pid),
        gatePid === undefined ? 0 : cpuMicros(gatePid),
        performance.now(),
      ];
      await waitFor("the backlog to drain", async () => (await writer.metric(WRITTEN)) >= events, 600_000, 100);
      const [cpu1, gateCpu1, t1] = [
        cpuMicros(writer.pid),
        gatePid === undefined ? 0 : cpuMicros(gatePid),
        performance.now(),
      ];
      const drained = events - written0;
      return {
        eventsPerSecond: drained / ((t1 - t0) / 1000),
        cpuMicrosPerEvent: (cpu1 - cpu0) / drained,
        peakRssMiB: peakRssBytes(writer.pid) / 2 ** 20,
        ...(gatePid === undefined
          ? {}
          : {
              gate: { cpuMicrosPerEvent: (gateCpu1 - gateCpu0) / drained, peakRssMiB: peakRssBytes(gatePid) / 2 ** 20 },
            }),
      };
    } finally {
      await writer.process.stop("SIGTERM", 30_000);
      await gate?.service.process.stop("SIGTERM", 30_000);
    }
  } finally {
    await nc.close();
    await nats.dispose();
  }
};

const servers = shippedServers();
process.env.NATS_SERVER_BIN = servers.NATS_SERVER_BIN;
const influxd = await startInfluxd("drain", servers.influxd);
try {
  const figures: DrainFigures[] = [];
  for (let run = 1; run <= runs; run++) {
    const one = await drainOnce(influxd, run);
    figures.push(one);
    console.log(
      `run ${run}: ${Math.round(one.eventsPerSecond).toLocaleString("en")} events/s, ` +
        `${one.cpuMicrosPerEvent.toFixed(1)} µs CPU/event, peak RSS ${one.peakRssMiB.toFixed(0)} MiB` +
        (one.gate === undefined
          ? ""
          : `; influx-gate ${one.gate.cpuMicrosPerEvent.toFixed(2)} µs CPU/event, peak RSS ${one.gate.peakRssMiB.toFixed(0)} MiB`),
    );
  }
  const rate = summarise(figures.map((f) => f.eventsPerSecond));
  const cpu = summarise(figures.map((f) => f.cpuMicrosPerEvent));
  console.log(
    `writer draining ${events.toLocaleString("en")} events${throughGate ? " through the influx-gate" : ""}${settingsNote === "" ? "" : ` (${settingsNote})`}: ` +
      `median ${Math.round(rate.median).toLocaleString("en")} events/s, ${cpu.median.toFixed(1)} µs CPU/event ` +
      `(CPU ${cpu.min.toFixed(1)}–${cpu.max.toFixed(1)} over ${runs} run${runs === 1 ? "" : "s"})`,
  );
} finally {
  await influxd.dispose();
}
