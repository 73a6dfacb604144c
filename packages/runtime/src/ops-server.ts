import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { z } from "zod";
import { StartupError } from "./errors.js";
import { intVar } from "./units.js";

/**
 * Default operations port of each long-running service: one each, so that all of them run side by
 * side on one host with their defaults. A new service takes the next port and a row here.
 */
export const DEFAULT_OPS_PORTS = { daemon: 9464, writer: 9465, reader: 9466, gateway: 9467, influxGate: 9468 } as const;

/** Where a service serves `/healthz`, `/readyz` and `/metrics`, with the service's own default port. */
export const opsEnv = (defaultPort: number) =>
  z.object({
    /** Port of the operations endpoint; 0 picks a free one, and the service logs which. */
    OPS_PORT: intVar(defaultPort, 0, 65_535),
    /** Address it binds to; 0.0.0.0 inside a container so that probes can reach it. */
    OPS_HOST: z.string().min(1).default("127.0.0.1"),
  });
export type OpsEnv = z.infer<ReturnType<typeof opsEnv>>;

/** A named dependency check; the service is ready when all of them pass. */
export type ReadinessCheck = () => boolean;

/** The running operations endpoint. */
export interface OpsServer {
  readonly port: number;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** A metrics registry with the process's default metrics, labelled with the service name. */
export const createMetricsRegistry = (service: string): Registry => {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
};

/**
 * Serves `GET /healthz` (the process is alive: always 200), `GET /readyz` (200 when every check
 * passes, else 503 with the failing names) and `GET /metrics` (Prometheus text format).
 */
export const startOpsServer = async (
  env: OpsEnv,
  registry: Registry,
  checks: Readonly<Record<string, ReadinessCheck>>,
  log: Logger,
): Promise<OpsServer> => {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET") {
      response.writeHead(405, { allow: "GET" }).end();
      return;
    }
    if (path === "/healthz") {
      response.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      return;
    }
    if (path === "/readyz") {
      const failing = Object.entries(checks)
        .filter(([, check]) => !check())
        .map(([name]) => name);
      response
        .writeHead(failing.length === 0 ? 200 : 503, { "content-type": "application/json" })
        .end(JSON.stringify({ status: failing.length === 0 ? "ready" : "not ready", failing }));
      return;
    }
    if (path === "/metrics") {
      registry
        .metrics()
        .then((text) => response.writeHead(200, { "content-type": registry.contentType }).end(text))
        .catch((err: unknown) => {
          log.error({ err }, "cannot render metrics");
          response.writeHead(500).end();
        });
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(
        new StartupError(`cannot serve operations on ${env.OPS_HOST}:${env.OPS_PORT}: ${err.message}`, { cause: err }),
      ),
    );
    server.listen(env.OPS_PORT, env.OPS_HOST, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: env.OPS_HOST, port }, "serving /healthz, /readyz and /metrics");
  return {
    port,
    registry,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
