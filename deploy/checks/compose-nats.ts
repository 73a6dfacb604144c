import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { freePort, type ManagedProcess, spawnManaged, waitFor } from "@vigil/testing";
import { ROOT, readCompose } from "./deployment-files.js";

// The NATS server of docker-compose.yml, run without a Docker engine: deploy/init/secrets.sh
// generates the passwords, deploy/nats/entrypoint.sh starts the real nats-server with them and
// deploy/nats/nats.conf (or nats-tls.conf), as in the container. Shared by the compose wiring check
// and test/security, so both prove the configuration that is deployed.

/** The programs that log in to NATS, each as its own user. */
export const NATS_SERVICES = ["setup", "daemon", "writer", "reader", "client", "gateway"] as const;
export type NatsService = (typeof NATS_SERVICES)[number];

/**
 * Where the writer and the gateway reach the JetStream API of INGEST, the streams' account: the
 * subjects their accounts import under this prefix (deploy/nats/nats.conf, NATS_STREAMS_API_PREFIX
 * in docker-compose.yml).
 */
export const STREAMS_API_PREFIX = "$JS.INGEST.API";

/** The docker-compose.yml service each program runs as, where the names differ. */
const COMPOSE_SERVICE: Partial<Record<NatsService, string>> = { setup: "nats-setup" };

/** The folders deploy/init/secrets.sh expects, one per volume it prepares. */
const SECRET_VOLUMES = [
  ...NATS_SERVICES,
  "influxdb",
  "writer-gate-token",
  "gateway-auth",
  "gateway-first-start",
  "gate-influx-token",
  "reader-influx-token",
  "nats-data",
];

/** How a service logs in according to docker-compose.yml: its user and its inbox prefix. */
export const composeNatsLogin = (service: NatsService): { user: string; inboxPrefix: string } => {
  const environment =
    readCompose("docker-compose.yml").services[COMPOSE_SERVICE[service] ?? service]?.environment ?? {};
  const user = environment.NATS_USER;
  const inboxPrefix = environment.NATS_INBOX_PREFIX;
  if (typeof user !== "string" || typeof inboxPrefix !== "string") {
    throw new Error(`docker-compose.yml: ${service} sets no NATS_USER or NATS_INBOX_PREFIX`);
  }
  return { user, inboxPrefix };
};

/** Runs deploy/init/secrets.sh into `root`, as the `secrets` container does into its volumes. */
export const generateSecrets = (root: string) => {
  for (const volume of SECRET_VOLUMES) mkdirSync(join(root, volume), { recursive: true });
  return spawnSync("sh", [`${ROOT}deploy/init/secrets.sh`], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "",
      VIGIL_SECRETS_ROOT: root,
      VIGIL_SECRETS_OWNER: `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`,
    },
  });
};

export interface ComposeNatsOptions {
  /** Where deploy/init/secrets.sh wrote the passwords. */
  readonly secrets: string;
  /** A folder for the JetStream store. */
  readonly storeDir: string;
  /** `nats.conf`, or `nats-tls.conf` for the TLS mode. */
  readonly config?: "nats.conf" | "nats-tls.conf";
  /** More variables for the entrypoint: limits, certificate paths. */
  readonly env?: Readonly<Record<string, string>>;
  /** CA that signs the server certificate, for the TLS mode. */
  readonly caFile?: string;
}

/** The compose nats-server, started on free loopback ports. */
export interface ComposeNats {
  /** `nats://127.0.0.1:PORT`, or `tls://` in the TLS mode. */
  readonly url: string;
  readonly monitorUrl: string;
  readonly process: ManagedProcess;
  /** The file deploy/init/secrets.sh wrote the NATS password of `service` to. */
  passwordFile(service: NatsService): string;
  /** Logs in as `service` does in its container (user, password, inbox prefix), without reconnecting. */
  login(service: NatsService, overrides?: { pass?: string; inboxPrefix?: string }): Promise<NatsConnection>;
  /** The refusals nats-server logged, each as `<user> <Publish|Subscription> <subject>`. */
  violations(): string[];
  /** Closes every connection {@link login} opened and stops the server. */
  stop(): Promise<void>;
}

export const startComposeNats = async (options: ComposeNatsOptions): Promise<ComposeNats> => {
  const port = await freePort();
  const monitorPort = await freePort();
  const scheme = options.config === "nats-tls.conf" ? "tls" : "nats";
  const url = `${scheme}://127.0.0.1:${port}`;
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  // The container's command, with the listener, the store and the secrets moved into the test.
  const server = spawnManaged("sh", [`${ROOT}deploy/nats/entrypoint.sh`, "-a", "127.0.0.1", "-p", String(port)], {
    PATH: process.env.PATH ?? "",
    // The nats-server the tests run (the version compose pins), or nats-server from PATH.
    ...(process.env.NATS_SERVER_BIN === undefined ? {} : { NATS_SERVER_BIN: process.env.NATS_SERVER_BIN }),
    VIGIL_SECRETS_DIR: options.secrets,
    NATS_CONFIG: `${ROOT}deploy/nats/${options.config ?? "nats.conf"}`,
    NATS_STORE_DIR: options.storeDir,
    NATS_MONITOR_LISTEN: `127.0.0.1:${monitorPort}`,
    ...options.env,
  });
  // The compose healthcheck's probe; a configuration nats-server refuses ends the wait at once.
  let healthy = false;
  await Promise.race([
    waitFor("nats-server /healthz", async () => (await fetch(`${monitorUrl}/healthz`)).ok).then(() => {
      healthy = true;
    }),
    server.exited().then(() => {
      if (!healthy) throw new Error(`nats-server exited: ${server.output()}`);
    }),
  ]);

  const connections: NatsConnection[] = [];
  const passwordFile = (service: NatsService) => join(options.secrets, service, "nats-password");
  return {
    url,
    monitorUrl,
    process: server,
    passwordFile,
    async login(service, overrides = {}) {
      const { user, inboxPrefix } = composeNatsLogin(service);
      const nc = await connect({
        servers: url,
        user,
        pass: overrides.pass ?? readFileSync(passwordFile(service), "utf8"),
        inboxPrefix: overrides.inboxPrefix ?? inboxPrefix,
        reconnect: false,
        name: `check-${service}`,
        ...(options.caFile === undefined ? {} : { tls: { caFile: options.caFile } }),
      });
      connections.push(nc);
      return nc;
    },
    violations: () =>
      [...server.output().matchAll(/(Publish|Subscription) Violation - User "([^"]+)", Subject "([^"]+)"/g)].map(
        (m) => `${m[2]} ${m[1]} ${m[3]}`,
      ),
    async stop() {
      await Promise.allSettled(connections.map((nc) => nc.close()));
      await server.stop();
    },
  };
};
