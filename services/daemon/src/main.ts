import { jetstreamManager } from "@nats-io/jetstream";
import {
  connectNats,
  createLogger,
  createMetricsRegistry,
  ensureEventsStream,
  runService,
  startOpsServer,
} from "@vigil/runtime";
import { type DaemonConfig, loadConfig } from "./config.js";
import { createConfirmedPublish } from "./confirmed-publish.js";
import { createEventGenerator } from "./event-generator.js";
import { createPublishLatency, exposePublisherStats } from "./metrics.js";
import { startPublisher } from "./publisher.js";

const SERVICE = "daemon";
// Beyond the wait for confirmations, shutdown still drains NATS and closes the ops server.
const CLOSE_ALLOWANCE_MS = 5_000;

let config: DaemonConfig;
try {
  config = loadConfig();
} catch (err) {
  createLogger(SERVICE).fatal({ err }, `start-up failed: ${(err as Error).message}`);
  process.exit(1);
}
const log = createLogger(SERVICE, config.LOG_LEVEL);

await runService(log, {
  shutdownTimeoutMs: config.DAEMON_SHUTDOWN_TIMEOUT + CLOSE_ALLOWANCE_MS,
  async start() {
    let connected = false;
    const nc = await connectNats(config, `vigil-${SERVICE}`, log.child({ module: "nats" }), (up) => {
      connected = up;
    });
    const topologyLog = log.child({ module: "topology" });
    await ensureEventsStream(await jetstreamManager(nc), config, topologyLog);
    const registry = createMetricsRegistry(SERVICE);
    const ops = await startOpsServer(config, registry, { nats: () => connected }, log.child({ module: "ops" }));
    const confirmed = createConfirmedPublish(nc, { inboxPrefix: config.NATS_INBOX_PREFIX });
    const publisher = startPublisher(
      {
        js: confirmed,
        nextEvent: createEventGenerator({ weights: config.DAEMON_CRITICALITY_WEIGHTS, source: config.DAEMON_SOURCE }),
        log: log.child({ module: "publisher" }),
        latency: createPublishLatency(registry),
      },
      {
        ratePerSecond: config.DAEMON_RATE,
        maxInFlight: config.DAEMON_MAX_IN_FLIGHT,
        ...(config.DAEMON_MAX_EVENTS === undefined ? {} : { maxEvents: config.DAEMON_MAX_EVENTS }),
        publishTimeoutMs: config.DAEMON_PUBLISH_TIMEOUT,
        retryInitialMs: config.DAEMON_RETRY_INITIAL_DELAY,
        retryMaxMs: config.DAEMON_RETRY_MAX_DELAY,
        burstMs: config.DAEMON_BURST,
      },
    );
    exposePublisherStats(registry, publisher.stats);
    log.info({ rate: config.DAEMON_RATE, maxEvents: config.DAEMON_MAX_EVENTS }, "publishing events");
    publisher.completed.then(
      () => {
        log.info({ maxEvents: config.DAEMON_MAX_EVENTS }, "every event is confirmed; stopping");
        // One shutdown path for both endings: the signal handler that runService installed.
        process.kill(process.pid, "SIGTERM");
      },
      (err: unknown) => {
        log.fatal({ err }, "event generation failed");
        process.exit(1);
      },
    );
    return async () => {
      await publisher.stop(config.DAEMON_SHUTDOWN_TIMEOUT);
      confirmed.close();
      await nc.drain();
      await ops.close();
    };
  },
});
