import {
  createServer,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { authorizationHeader, type InfluxConfig } from "@vigil/influx";
import { type Logger, StartupError } from "@vigil/runtime";
import { Registry } from "prom-client";
import type { GateSettings } from "./config.js";
import { createGateMetrics, type GateOutcome, type GateRouteLabel } from "./metrics.js";
import {
  checkBody,
  createCredentialCheck,
  type GateRoute,
  OVERLOADED,
  type Refusal,
  routeRequest,
  UNAUTHENTICATED,
} from "./request-filter.js";

/** What the gate reports about InfluxDB's reachability (the watch of `@vigil/influx`). */
export interface StorageRecord {
  record(reachable: boolean): void;
}

export interface InfluxGateDeps {
  readonly log: Logger;
  /** Where the gate's metrics go; a registry of its own when absent (tests). */
  readonly registry?: Registry;
  readonly storage: StorageRecord;
}

/** The gate's HTTP server, not yet listening. */
export interface InfluxGate {
  readonly server: Server;
  /** Writes being passed to InfluxDB now. */
  inFlight(): number;
  /** Listens on the settings' host and port; resolves with the port bound. */
  listen(): Promise<number>;
  /** Stops taking connections, waits for the requests in flight, then closes the upstream connections. */
  close(): Promise<void>;
}

/** Seconds a client is told to wait after a 503 or 429 (the writer backs off by itself as well). */
const RETRY_AFTER_SECONDS = "2";

/** InfluxDB's answer headers that the writer (or an operator) may use; the others are not passed. */
const PASSED_BACK = [
  "content-type",
  "content-length",
  "retry-after",
  "x-influxdb-version",
  "x-influxdb-build",
  "x-influxdb-error",
  "x-platform-error-code",
] as const;

const passedBack = (headers: IncomingHttpHeaders): OutgoingHttpHeaders => {
  const kept: Record<string, string | string[]> = {};
  for (const name of PASSED_BACK) {
    const value = headers[name];
    if (value !== undefined) kept[name] = value;
  }
  return kept;
};

const outcomeOf = (status: number): GateOutcome =>
  status < 400 ? "passed" : status < 500 ? "influx_rejected" : "influx_failed";

/** The path of a request target, for the log: never its parameters, which the client chose. */
const pathOf = (url: string | undefined): string => {
  try {
    return new URL(url ?? "/", "http://gate.invalid").pathname.slice(0, 256);
  } catch {
    return "(not a URL)";
  }
};

const sendError = (res: ServerResponse, status: number, body: object, headers: OutgoingHttpHeaders = {}): void => {
  const text = JSON.stringify({ error: body });
  res
    .writeHead(status, {
      ...headers,
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    })
    .end(text);
};

/**
 * The write-only gate in front of InfluxDB: the writer's only way in. It accepts the writer's own
 * credential, checks each request against {@link routeRequest} and {@link checkBody}, and passes
 * the writes and pings it allows to InfluxDB with the gate's InfluxDB credential, streaming the
 * body through unchanged and InfluxDB's status, headers that matter and body back unchanged, so
 * that the writer's handling of partial writes, 4xx and 5xx is what it would be against InfluxDB.
 */
export const createInfluxGate = (deps: InfluxGateDeps, upstream: InfluxConfig, settings: GateSettings): InfluxGate => {
  const { log, storage } = deps;
  const base = upstream.url.replace(/\/+$/, "");
  const secure = base.startsWith("https:");
  const agentOptions = {
    keepAlive: true,
    maxSockets: settings.upstreamConnections,
    maxFreeSockets: settings.upstreamConnections,
    scheduling: "lifo" as const,
  };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const send = secure ? httpsRequest : httpRequest;
  const upstreamAuth = authorizationHeader(upstream.auth);
  const isWriter = createCredentialCheck(settings.token);
  let writesInFlight = 0;
  const metrics = createGateMetrics(deps.registry ?? new Registry(), () => writesInFlight);

  const refuse = (req: IncomingMessage, res: ServerResponse, route: GateRouteLabel, refusal: Refusal): void => {
    metrics.refused(refusal.code);
    metrics.finished(route, "refused");
    log.warn(
      {
        method: req.method,
        path: pathOf(req.url),
        status: refusal.status,
        code: refusal.code,
        client: req.socket.remoteAddress,
      },
      "refused a request",
    );
    const headers: OutgoingHttpHeaders = {};
    if (refusal.allow !== undefined) headers.allow = refusal.allow;
    if (refusal.status === 429) headers["retry-after"] = RETRY_AFTER_SECONDS;
    // Whatever body follows is read and dropped by Node, so the client gets this answer.
    sendError(res, refusal.status, { code: refusal.code, message: refusal.message }, headers);
  };

  const pass = (req: IncomingMessage, res: ServerResponse, route: GateRoute): void => {
    const isWrite = route.kind === "write";
    if (isWrite) writesInFlight++;
    let settled = false;
    let clientGone = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (outcome: GateOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (isWrite) writesInFlight--;
      metrics.finished(route.kind, outcome);
    };

    const headers: OutgoingHttpHeaders = { "user-agent": "vigil-influx-gate" };
    if (isWrite) {
      Object.assign(headers, upstreamAuth, { "content-length": req.headers["content-length"] });
      const type = req.headers["content-type"];
      if (type !== undefined) headers["content-type"] = type;
    }
    const started = performance.now();
    const forward = send(`${base}${route.upstreamPath}`, {
      method: isWrite ? "POST" : req.method,
      headers,
      agent,
    });

    const unavailable = (message: string) => {
      storage.record(false);
      settle("unavailable");
      // The rest of the body, if any, is read and dropped, so the client gets this answer.
      req.unpipe(forward);
      req.resume();
      sendError(res, 503, { code: "UNAVAILABLE", message }, { "retry-after": RETRY_AFTER_SECONDS });
    };

    forward.on("response", (answer) => {
      const status = answer.statusCode ?? 502;
      metrics.upstreamLatency(route.kind, (performance.now() - started) / 1_000);
      storage.record(status < 500);
      res.writeHead(status, passedBack(answer.headers));
      answer.pipe(res);
      answer.on("end", () => settle(outcomeOf(status)));
      answer.on("error", () => res.destroy());
    });
    forward.on("error", (err) => {
      if (clientGone || settled) return;
      if (res.headersSent) {
        // InfluxDB went away in the middle of its answer: the client sees the connection drop.
        log.debug({ err }, "InfluxDB's answer was cut short");
        settle("unavailable");
        res.destroy();
        return;
      }
      log.debug({ err }, "InfluxDB could not be reached");
      unavailable(`InfluxDB at ${base} could not be reached`);
    });
    // The client went away before its answer was complete: nothing more goes to InfluxDB. A body
    // cut short never becomes a write, since InfluxDB was told its whole length.
    res.on("close", () => {
      if (res.writableFinished) return;
      clientGone = true;
      // Once settled, InfluxDB's side is done, and its connection may be serving another request.
      if (settled) return;
      settle("unavailable");
      forward.destroy();
    });

    // InfluxDB's time to answer runs once the whole request has reached it (the client's time
    // to send it is bounded by the server's own request timeout).
    const startTimer = () => {
      // InfluxDB may have answered before the body was all sent; a finished exchange's
      // connection may already serve another request and must not be touched.
      if (settled) return;
      timer = setTimeout(() => {
        if (settled) return;
        if (res.headersSent) {
          // InfluxDB's answer has begun and stalled: the client sees the connection drop.
          settle("unavailable");
          forward.destroy();
          res.destroy();
          return;
        }
        log.warn({ timeoutMs: settings.requestTimeoutMs }, "InfluxDB did not answer in time");
        unavailable(`InfluxDB did not answer within ${settings.requestTimeoutMs} ms`);
        forward.destroy();
      }, settings.requestTimeoutMs);
    };
    if (isWrite) {
      req.on("data", (chunk: Buffer) => metrics.sent(chunk.length));
      req.on("end", startTimer);
      req.pipe(forward);
    } else {
      req.resume();
      forward.end();
      startTimer();
    }
  };

  /** The route to pass a request on, or the refusal with the route it counts under. */
  const decide = (req: IncomingMessage): GateRoute | { kind: "refused"; label: GateRouteLabel; refusal: Refusal } => {
    if (!isWriter(req.headers.authorization)) return { kind: "refused", label: "none", refusal: UNAUTHENTICATED };
    const route = routeRequest(req.method ?? "", req.url ?? "/", settings.rules);
    if (route.kind === "refused") return { kind: "refused", label: "none", refusal: route };
    if (route.kind === "ping") return route;
    const problem =
      checkBody(req.headers, settings.maxBodyBytes) ??
      (writesInFlight >= settings.maxConcurrent ? OVERLOADED : undefined);
    return problem === undefined ? route : { kind: "refused", label: "write", refusal: problem };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const decision = decide(req);
    if (decision.kind === "refused") refuse(req, res, decision.label, decision.refusal);
    else pass(req, res, decision);
  };

  const server = createServer(
    { requestTimeout: settings.requestTimeoutMs, headersTimeout: settings.requestTimeoutMs },
    handle,
  );

  return {
    server,
    inFlight: () => writesInFlight,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once("error", (err) =>
          reject(
            new StartupError(`cannot serve the gate on ${settings.host}:${settings.port}: ${err.message}`, {
              cause: err,
            }),
          ),
        );
        server.listen(settings.port, settings.host, resolve);
      });
      const port = (server.address() as AddressInfo).port;
      log.info(
        { host: settings.host, port, database: settings.rules.database, influx: base },
        "serving the write gate",
      );
      return port;
    },
    async close() {
      // Idle keep-alive connections close at once; the requests in flight are answered first.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
};
