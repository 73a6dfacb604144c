import { readFileSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  connectNats,
  createConfirmedPublish,
  createLogger,
  createMetricsRegistry,
  ensureAuditStream,
  loadConfigOrExit,
  runService,
  startOpsServer,
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
import { createPipelineStats, readPipeline } from "./pipeline-stats.js";
import { createRateLimiter, RATE_WINDOW_MS } from "./rate-limit.js";
import { createReaderQueries } from "./reader-queries.js";
import { auditRoutes } from "./routes/audit.js";
import { authRoutes } from "./routes/auth.js";
import { eventRoutes } from "./routes/events.js";
import { readRoutes } from "./routes/reads.js";
import { statsRoutes } from "./routes/stats.js";

const SERVICE = "vigil-gateway";
const config = loadConfigOrExit(SERVICE, () => loadConfig());
const log = createLogger(SERVICE, config.logLevel);

await runService(log, {
  shutdownTimeoutMs: config.shutdownTimeoutMs,
  async start() {
    const { settings } = config;
    const credentials = await parseCredentials(readFileSync(config.credentialsFile, "utf8"));
    const tokens = await createAccessTokens(readFileSync(config.signingKeyFile, "utf8"), settings.accessTokenTtlMs);
    let natsConnected = false;
    const nc = await connectNats(config.nats, SERVICE, log.child({ module: "nats" }), (up) => {
      natsConnected = up;
    });
    const kv = await new Kvm(jetstream(nc)).create(GATEWAY_REFRESH_BUCKET, { ttl: settings.refreshTokenTtlMs });
    // No `$JS.API.INFO` check: the gateway's NATS user may read only the infos `GET /v1/stats` needs.
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await ensureAuditStream(jsm, config.auditStream, log.child({ module: "topology" }));
    const audit = createAuditTrail({
      js: jetstream(nc),
      jsm,
      log: log.child({ module: "audit" }),
      timeoutMs: settings.publishTimeoutMs,
    });
    const families = createRefreshFamilies(kv, settings.refreshTokenTtlMs);
    const rateLimiter = createRateLimiter({
      // A counter outlives its window by one more, then the bucket drops it.
      kv: await new Kvm(jetstream(nc)).create(GATEWAY_RATE_BUCKET, { ttl: 2 * RATE_WINDOW_MS }),
      limits: config.rateLimits,
      isApiKey: (principal) => principal.via === "apiKey" || credentials.hasKey(principal.name, principal.role),
      log: log.child({ module: "rate-limit" }),
      connected: () => natsConnected,
    });
    const publisher = createConfirmedPublish(nc, { inboxPrefix: config.nats.NATS_INBOX_PREFIX });
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
      ],
      audit,
      rateLimiter,
      tls: config.tls,
    });
    // fastify writes into the options it is given; the configuration is frozen.
    await app.listen({ ...config.listen });
    // The port bound, not the one asked for: with GATEWAY_PORT=0 whoever started the gateway learns it here.
    const bound = app.server.address();
    const port = typeof bound === "object" && bound !== null ? bound.port : config.listen.port;
    log.info(
      { host: config.listen.host, port, tls: config.tls !== undefined, keyId: tokens.keyId },
      "serving the HTTP API",
    );
    const ops = await startOpsServer(
      config.ops,
      createMetricsRegistry(SERVICE),
      { nats: () => natsConnected },
      log.child({ module: "ops" }),
    );
    return async () => {
      // Stops accepting connections and waits for the requests in flight to be answered.
      await app.close();
      await audit.flush();
      publisher.close();
      await nc.drain();
      await ops.close();
    };
  },
});
