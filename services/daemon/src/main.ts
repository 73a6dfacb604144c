import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  connectNats,
  createConfirmedPublish,
  createLogger,
  createMetricsRegistry,
  type EventsStreamEnv,
  ensureEventsStream,
  isPermissionError,
  type Logger,
  loadConfigOrExit,
  runService,
  startOpsServer,
} from "@vigil/runtime";
import { loadConfig } from "./config.js";
import { createEventGenerator } from "./event-generator.js";
import { createPublishLatency, exposePublisherStats } from "./metrics.js";
import { startPublisher } from "./publisher.js";

const SERVICE = "daemon";

/**
 * Makes sure the events stream is what Vigil needs, creating it when this credential may. In the
 * compose deployment a producer reaches no JetStream API at all (deploy/nats/nats.conf): it only
 * publishes, and the writer checks and owns the topology.
 */
const checkTopology = async (nc: NatsConnection, streams: EventsStreamEnv, topologyLog: Logger): Promise<void> => {
  try {
    await ensureEventsStream(await jetstreamManager(nc, { checkAPI: false }), streams, topologyLog);
  } catch (err) {
    if (!isPermissionError(err)) throw err;
    topologyLog.info("this credential may only publish events; the writer checks the stream");
  }
};
const config = loadConfigOrExit(SERVICE, () => loadConfig());
const log = createLogger(SERVICE, config.logLevel);

await runService(log, {
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  async start() {
    let connected = false;
    const nc = await connectNats(config.nats, `vigil-${SERVICE}`, log.child({ module: "nats" }), (up) => {
      connected = up;
    });
    const topologyLog = log.child({ module: "topology" });
    if (config.streams === undefined) topologyLog.info("DAEMON_ENSURE_STREAM=false: the writer creates the stream");
    else await checkTopology(nc, config.streams, topologyLog);
    const registry = createMetricsRegistry(SERVICE);
    const ops = await startOpsServer(config.ops, registry, { nats: () => connected }, log.child({ module: "ops" }));
    const confirmed = createConfirmedPublish(nc, { inboxPrefix: config.nats.NATS_INBOX_PREFIX });
    const publisher = startPublisher(
      {
        js: confirmed,
        nextEvent: createEventGenerator(config.events),
        log: log.child({ module: "publisher" }),
        latency: createPublishLatency(registry),
      },
      config.publisher,
    );
    exposePublisherStats(registry, publisher.stats);
    const { ratePerSecond: rate, maxEvents } = config.publisher;
    log.info({ rate, maxEvents }, "publishing events");
    publisher.completed.then(
      () => {
        log.info({ maxEvents }, "every event is confirmed; stopping");
        // One shutdown path for both endings: the signal handler that runService installed.
        process.kill(process.pid, "SIGTERM");
      },
      (err: unknown) => {
        log.fatal({ err }, "event generation failed");
        process.exit(1);
      },
    );
    return async () => {
      await publisher.stop(config.drainTimeoutMs);
      confirmed.close();
      await nc.drain();
      await ops.close();
    };
  },
});
