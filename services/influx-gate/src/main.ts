import { createInfluxClient, watchInflux } from "@vigil/influx";
import { createLogger, createMetricsRegistry, loadConfigOrExit, runService, startOpsServer } from "@vigil/runtime";
import { INFLUX_GATE_SERVICE, loadConfig } from "./config.js";
import { createInfluxGate } from "./gate.js";

const config = loadConfigOrExit(INFLUX_GATE_SERVICE, () => loadConfig());
const log = createLogger(INFLUX_GATE_SERVICE, config.logLevel);

await runService(log, {
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  async start() {
    const registry = createMetricsRegistry(INFLUX_GATE_SERVICE);
    const storage = watchInflux(
      createInfluxClient(config.influx),
      config.settings.healthIntervalMs,
      log.child({ module: "storage-health" }),
      { down: "InfluxDB does not answer; writes get 503 until it does", back: "InfluxDB answers again" },
    );
    const gate = createInfluxGate(
      { log: log.child({ module: "gate" }), registry, storage },
      config.influx,
      config.settings,
    );
    await gate.listen();
    const ops = await startOpsServer(
      config.ops,
      registry,
      { influxdb: () => storage.reachable },
      log.child({ module: "ops" }),
    );
    return async () => {
      await gate.close();
      storage.stop();
      await ops.close();
    };
  },
});
