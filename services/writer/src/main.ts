import { createInfluxClient } from "@vigil/influx";
import {
  connectNats,
  createLogger,
  createMetricsRegistry,
  loadConfigOrExit,
  runService,
  startOpsServer,
} from "@vigil/runtime";
import { loadConfig } from "./config.js";
import { startWriter } from "./writer.js";

const config = loadConfigOrExit("writer", () => loadConfig());
const log = createLogger("writer", config.logLevel);

await runService(log, {
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  async start() {
    const registry = createMetricsRegistry("writer");
    let natsConnected = false;
    const nc = await connectNats(config.nats, "vigil-writer", log.child({ module: "nats" }), (connected) => {
      natsConnected = connected;
    });
    const influx = createInfluxClient(config.influx);
    const writer = await startWriter(
      { nc, influx, inboxPrefix: config.nats.NATS_INBOX_PREFIX, log, registry },
      config.settings,
    );
    const ops = await startOpsServer(
      config.ops,
      registry,
      { nats: () => natsConnected, influx: writer.influxReachable },
      log.child({ module: "ops" }),
    );
    return async () => {
      await writer.stop();
      await nc.drain();
      await ops.close();
    };
  },
});
