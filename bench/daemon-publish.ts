/**
 * `pnpm build && node --import tsx bench/daemon-publish.ts [--events N] [--runs R] [--node-options="..."]`
 *
 * The real daemon process (`services/daemon/dist/main.js`) publishing as fast as confirmations
 * allow (DAEMON_RATE=0) into a fresh stream on a fresh nats-server, with no writer draining it.
 * Reports confirmed events per second and the daemon's CPU microseconds per event over the first
 * N (default 200,000) confirmations after it is ready. `--node-options` is handed to the daemon as
 * NODE_OPTIONS.
 */
import { parseArgs } from "node:util";
import { serviceEnv, startNatsServer, startService, waitFor } from "@vigil/testing";
import { cpuMicros } from "./process-stats.js";
import { summarise } from "./stats.js";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    runs: { type: "string", default: "1" },
    "node-options": { type: "string", default: "" },
  },
});
const events = Number(values.events);
const runs = Number(values.runs);
const nodeOptions = values["node-options"];
const CONFIRMED = "vigil_daemon_publish_confirmed_total";

const publishOnce = async (): Promise<{ eventsPerSecond: number; cpuMicrosPerEvent: number }> => {
  const nats = await startNatsServer();
  try {
    const extra: Record<string, string> = { DAEMON_RATE: "0" };
    if (nodeOptions !== "") extra.NODE_OPTIONS = nodeOptions;
    const daemon = await startService("daemon", serviceEnv(nats.url, undefined, extra));
    try {
      const [confirmed0, cpu0, t0] = [await daemon.metric(CONFIRMED), cpuMicros(daemon.pid), performance.now()];
      let confirmed1 = confirmed0;
      await waitFor(
        `${events} confirmations`,
        async () => {
          confirmed1 = await daemon.metric(CONFIRMED);
          return confirmed1 - confirmed0 >= events;
        },
        600_000,
        100,
      );
      const [cpu1, t1] = [cpuMicros(daemon.pid), performance.now()];
      const confirmed = confirmed1 - confirmed0;
      return { eventsPerSecond: confirmed / ((t1 - t0) / 1000), cpuMicrosPerEvent: (cpu1 - cpu0) / confirmed };
    } finally {
      await daemon.process.stop("SIGTERM", 30_000);
    }
  } finally {
    await nats.dispose();
  }
};

const figures = [];
for (let run = 1; run <= runs; run++) {
  const one = await publishOnce();
  figures.push(one);
  console.log(
    `run ${run}: ${Math.round(one.eventsPerSecond).toLocaleString("en")} events/s, ` +
      `${one.cpuMicrosPerEvent.toFixed(1)} µs CPU/event`,
  );
}
const rate = summarise(figures.map((f) => f.eventsPerSecond));
const cpu = summarise(figures.map((f) => f.cpuMicrosPerEvent));
console.log(
  `daemon publishing ${events.toLocaleString("en")} events${nodeOptions === "" ? "" : ` (NODE_OPTIONS=${nodeOptions})`}: ` +
    `median ${Math.round(rate.median).toLocaleString("en")} events/s, ${cpu.median.toFixed(1)} µs CPU/event ` +
    `(CPU ${cpu.min.toFixed(1)}–${cpu.max.toFixed(1)} over ${runs} run${runs === 1 ? "" : "s"})`,
);
