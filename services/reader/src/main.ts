import { createInfluxClient } from "@vigil/influx";
import {
  connectNats,
  createLogger,
  createMetricsRegistry,
  loadConfigOrExit,
  runService,
  startOpsServer,
} from "@vigil/runtime";
import { READER_SERVICE } from "@vigil/shared";
import { loadConfig } from "./config.js";
import { startReader } from "./reader.js";

const config = loadConfigOrExit(READER_SERVICE, () => loadConfig());
const log = createLogger(READER_SERVICE, config.logLevel);

await runService(log, {
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  async start() {
    const registry = createMetricsRegistry(READER_SERVICE);
    const influx = createInfluxClient(config.influx);
    let natsConnected = false;
    const nc = await connectNats(config.nats, READER_SERVICE, log.child({ module: "nats" }), (connected) => {
      natsConnected = connected;
    });
    const reader = await startReader({ nc, influx, log, registry }, config.settings);
    // A reader that no longer answers is useless alive: exit so that the orchestrator restarts it.
    void reader.stopped.then((err) => err !== null && process.exit(1));
    const ops = await startOpsServer(
      config.ops,
      registry,
      { nats: () => natsConnected, influxdb: reader.storageReachable, service: reader.answering },
      log.child({ module: "ops" }),
    );
    return async () => {
      await reader.stop();
      await nc.drain();
      await ops.close();
    };
  },
});
