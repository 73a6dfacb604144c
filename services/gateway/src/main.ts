import { readFileSync } from "node:fs";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  auditStreamConfig,
  checkLiveStream,
  checkStream,
  confirmedPublishOver,
  connectNats,
  createInboxRequests,
  createLogger,
  createMetricsRegistry,
  ensureAuditStream,
  ensureLiveStream,
  loadConfigOrExit,
  runService,
  startOpsServer,
  streamsJetStream,
} from "@vigil/runtime";
import { GATEWAY_RATE_BUCKET, GATEWAY_REFRESH_BUCKET } from "@vigil/shared";
import { buildGateway } from "./app.js";
import { createAuditTrail } from "./audit/audit-trail.js";
import { createAccessTokens } from "./auth/access-tokens.js";
import { createAuthenticator } from "./auth/authenticator.js";
import { parseCredentials } from "./auth/credentials.js";
import { createRefreshFamilies } from "./auth/refresh-families.js";
import { loadConfig } from "./config.js";
import { createEventIngest } from "./ingest.js";
import { createLiveMetrics } from "./live/live-metrics.js";
import { startLiveTail } from "./live/live-tail.js";
import { createPipelineStats, readPipeline } from "./pipeline-stats.js";
import { openRateCounters } from "./rate-counters.js";
import { createRateLimiter, RATE_WINDOW_MS } from "./rate-limit.js";
import { createReaderQueries } from "./reader-queries.js";
import { auditRoutes } from "./routes/audit.js";
import { authRoutes } from "./routes/auth.js";
import { dashboardRoutes, loadDashboardAssets } from "./routes/dashboard.js";
import { eventRoutes } from "./routes/events.js";
import { liveRoutes } from "./routes/live.js";
import { readRoutes } from "./routes/reads.js";
import { statsRoutes } from "./routes/stats.js";

const SERVICE = "vigil-gateway";
const config = loadConfigOrExit(SERVICE, () => loadConfig());
const log = createLogger(SERVICE, config.logLevel);

await runService(log, {
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  async start() {
    const { settings } = config;
    const registry = createMetricsRegistry(SERVICE);
    const credentials = await parseCredentials(readFileSync(config.credentialsFile, "utf8"));
    const tokens = await createAccessTokens(readFileSync(config.signingKeyFile, "utf8"), settings.accessTokenTtlMs);
    let natsConnected = false;
    const nc = await connectNats(config.nats, SERVICE, log.child({ module: "nats" }), (up) => {
      natsConnected = up;
    });
    // The key-value buckets live in the gateway's own account; the streams (AUDIT, LIVE, and EVENTS
    // for the stats) in the streams' account, reached through NATS_STREAMS_API_PREFIX.
    const kv = await new Kvm(jetstream(nc)).create(GATEWAY_REFRESH_BUCKET, { ttl: settings.refreshTokenTtlMs });
    const { js, jsm } = await streamsJetStream(nc, config.streams);
    const topologyLog = log.child({ module: "topology" });
    if (config.streams.mode === "ensure") {
      await ensureAuditStream(jsm, config.auditStream, topologyLog);
      await ensureLiveStream(jsm, config.liveStream, topologyLog);
    } else {
      await checkStream(jsm, auditStreamConfig(config.auditStream));
      await checkLiveStream(jsm, config.liveStream);
    }
    // One wildcard inbox and one sweep for every request the gateway makes itself: the confirmed
    // publishes of events, audit records and rate counters, and the rate counters' reads.
    const requests = createInboxRequests(nc, { inboxPrefix: config.nats.NATS_INBOX_PREFIX });
    const publisher = confirmedPublishOver(requests);
    const audit = createAuditTrail({
      publisher,
      jsm,
      log: log.child({ module: "audit" }),
      timeoutMs: settings.publishTimeoutMs,
    });
    const families = createRefreshFamilies(kv, settings.refreshTokenTtlMs);
    const rateLimiter = createRateLimiter({
      counters: await openRateCounters(
        // A counter outlives its window by one more, then the bucket drops it.
        await new Kvm(jetstream(nc)).create(GATEWAY_RATE_BUCKET, { ttl: 2 * RATE_WINDOW_MS }),
        { requests, publisher, timeoutMs: settings.publishTimeoutMs },
      ),
      limits: config.rateLimits,
      isApiKey: (principal) => principal.via === "apiKey" || credentials.hasKey(principal.name, principal.role),
      log: log.child({ module: "rate-limit" }),
      connected: () => natsConnected,
    });
    const tail = await startLiveTail({
      js,
      jsm,
      settings: config.live,
      checks: {
        isRevoked: (family) => families.isRevoked(family),
        isCurrent: ({ name, role }) => credentials.hasUser(name, role) || credentials.hasKey(name, role),
      },
      log: log.child({ module: "live" }),
      metrics: createLiveMetrics(registry, () => tail.hub.size),
    });
    const ingest = createEventIngest({
      publisher,
      connected: () => natsConnected,
      timeoutMs: settings.publishTimeoutMs,
    });
    const app = await buildGateway({
      log,
      settings,
      authenticator: createAuthenticator(tokens, credentials),
      routes: [
        authRoutes({ tokens, credentials, families, accessTokenTtlMs: settings.accessTokenTtlMs }),
        eventRoutes(ingest),
        readRoutes(createReaderQueries({ nc, connected: () => natsConnected, timeoutMs: config.readerTimeoutMs })),
        statsRoutes(createPipelineStats({ read: () => readPipeline(jsm), connected: () => natsConnected })),
        auditRoutes(audit),
        liveRoutes({ tail, corsOrigins: settings.corsOrigins, audit }),
        // dist/main.js: the page in ../dashboard/static, its compiled scripts in ./dashboard.
        dashboardRoutes(
          loadDashboardAssets(
            new URL("../dashboard/static/", import.meta.url),
            new URL("./dashboard/", import.meta.url),
          ),
        ),
      ],
      audit,
      rateLimiter,
      tls: config.tls,
    });
    // fastify writes into the options it is given; the configuration is frozen.
    await app.listen({ ...config.listen });
    // The bound port, which differs from GATEWAY_PORT when that is 0 (tests read it from here).
    const bound = app.server.address();
    const port = typeof bound === "object" && bound !== null ? bound.port : config.listen.port;
    log.info(
      { host: config.listen.host, port, tls: config.tls !== undefined, keyId: tokens.keyId },
      "serving the HTTP API",
    );
    const ops = await startOpsServer(config.ops, registry, { nats: () => natsConnected }, log.child({ module: "ops" }));
    return async () => {
      // Stops accepting connections and waits for the requests in flight to be answered; live-tail
      // clients are told the gateway is going away (1001) and may resume on another.
      await app.close();
      await tail.stop();
      await audit.flush();
      // Closes the inbox the rate counters' reads share.
      publisher.close();
      await nc.drain();
      await ops.close();
    };
  },
});
