import { randomUUID } from "node:crypto";
import type { Duplex } from "node:stream";
import cors from "@fastify/cors";
import swagger from "@fastify/swagger";
import type { Logger } from "@vigil/runtime";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { AuditOutcome, AuditTrail } from "./audit/audit-trail.js";
import { type Access, isAllowed, type Principal } from "./auth/principal.js";
import type { GatewaySettings } from "./config.js";
import { ApiError, type Issue } from "./errors.js";
import { acceptJsonOnly } from "./http/json-body.js";
import { SECURITY_HEADERS, TLS_HEADERS } from "./http/security-headers.js";
import { answerSlowBodies } from "./http/slow-bodies.js";
import type { RateLimiter } from "./rate-limit.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route; every route must say. */
    access?: Access;
    /** The error code of a request that fails the route's schema: `BAD_REQUEST` unless said. */
    invalidCode?: "BAD_REQUEST" | "INVALID_EVENT";
    /**
     * The action its audit records name (`events.ingest`); a route open to anyone is audited only
     * when it has one (the sign-in routes).
     */
    action?: string;
    /**
     * The access token may also come as the `access_token` query parameter or a
     * `Sec-WebSocket-Protocol` entry `bearer.<token>`, as a browser's WebSocket can send it.
     */
    webSocketToken?: boolean;
  }
  interface FastifyRequest {
    /** The authenticated caller; set for every route whose access is not `none`. */
    principal?: Principal;
    /** What a route or the error handler adds to the request's audit record. */
    auditNote?: AuditNote;
  }
}

/** Finds the caller behind a request's credentials (`Authorization: Bearer` or `X-API-Key`). */
export interface Authenticator {
  /** Resolves to the caller, or rejects with an `UNAUTHENTICATED` {@link ApiError}. */
  authenticate(request: FastifyRequest): Promise<Principal>;
}

/** What a route knows better than the hooks, for the request's audit record. */
export interface AuditNote {
  /** Who was named when no one was authenticated: the user name of a failed sign-in, a refresh family's owner. */
  actor?: string;
  /** A more precise action than the route's (`auth.refresh.reuse`). */
  action?: string;
  /** The error code answered. */
  code?: string;
}

/** What the gateway runs on; every I/O dependency comes in here, so tests pass their own. */
export interface GatewayOptions {
  readonly log: Logger;
  readonly settings: GatewaySettings;
  readonly authenticator: Authenticator;
  /** Route plugins, registered under the shared hooks (authentication, errors, headers). */
  readonly routes: readonly ((app: GatewayApp) => Promise<void>)[];
  /** Certificate chain and key (PEM) of the public port: TLS on, and `Strict-Transport-Security` sent. */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
  /** Counts each authenticated caller's requests, shared across gateways; no limit when absent. */
  readonly rateLimiter?: RateLimiter | undefined;
  /** Where every authenticated action and authentication event is recorded; nothing is when absent. */
  readonly audit?: Pick<AuditTrail, "record"> | undefined;
}

/** The fastify instance with zod schemas as its type provider. */
export type GatewayApp = FastifyInstance<
  import("node:http").Server,
  import("node:http").IncomingMessage,
  import("node:http").ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/**
 * fastify's request log fields, with the value of an `access_token` query parameter (the live
 * tail's way for browsers to pass a token) hidden, so that no token reaches the logs.
 */
const serializeRequest = (request: FastifyRequest) => ({
  method: request.method,
  url: request.url.replace(/([?&]access_token=)[^&#]*/gi, "$1[redacted]"),
  host: request.host,
  remoteAddress: request.ip,
  remotePort: request.socket?.remotePort,
});

/** A client's `X-Request-Id` is kept when it is short and plain; otherwise the gateway makes one. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the gateway's HTTP app without listening: `main.ts` listens, tests use `app.inject`. */
export const buildGateway = async (opts: GatewayOptions): Promise<GatewayApp> => {
  const { settings } = opts;
  // Its request serializer replaces fastify's own (fastify lets the instance's serializers win).
  const httpLog = opts.log.child({ module: "http" }, { serializers: { req: serializeRequest } });
  // Node checks for requests past their timeout every 30 s unless told otherwise: a slow client
  // would hold its socket that much longer than the limit.
  const serverOptions = { connectionsCheckingInterval: Math.min(1_000, Math.ceil(settings.requestTimeoutMs / 4)) };
  const app = Fastify({
    loggerInstance: httpLog,
    // One line per request (below) instead of fastify's two: at a thousand requests a second the
    // second line is a tenth of the gateway's CPU (BENCHMARKS.md, "Gateway").
    disableRequestLogging: true,
    bodyLimit: settings.bodyLimit,
    // Headers and body count against it: a slow client is answered BAD_REQUEST once it passes.
    requestTimeout: settings.requestTimeoutMs,
    // Only a backstop for a socket that went silent: shorter, it would close a slow request's
    // socket before the request timeout answers it.
    connectionTimeout: 2 * settings.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    http: serverOptions,
    clientErrorHandler: (err, socket) => answerClientError(httpLog, err, socket),
    genReqId: (request) => {
      const given = request.headers["x-request-id"];
      return typeof given === "string" && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
    },
    // The proxy in front, if any, is not trusted to name the client: the socket's address is.
    trustProxy: false,
    ...(opts.tls === undefined ? {} : { https: { ...serverOptions, cert: opts.tls.cert, key: opts.tls.key } }),
  }).withTypeProvider<ZodTypeProvider>() as unknown as GatewayApp;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  acceptJsonOnly(app, settings.maxJsonDepth);
  answerSlowBodies(app, settings.requestTimeoutMs);

  const headers = { ...SECURITY_HEADERS, ...(opts.tls !== undefined ? TLS_HEADERS : {}) };
  app.addHook("onRequest", async (request, reply) => {
    reply.headers(headers);
    reply.header("x-request-id", request.id);
  });
  await app.register(cors, {
    origin: settings.corsOrigins.length === 0 ? false : [...settings.corsOrigins],
    methods: ["GET", "POST"],
    allowedHeaders: ["authorization", "content-type", "x-api-key", "x-request-id"],
    exposedHeaders: ["retry-after", "x-request-id"],
    maxAge: 600,
  });
  app.addHook("onRoute", (route) => {
    if (route.config?.access === undefined && route.method !== "OPTIONS") {
      throw new Error(`route ${route.method} ${route.url} does not say who may call it`);
    }
  });
  app.addHook("onRequest", async (request) => {
    const access = request.routeOptions.config.access ?? "none";
    if (access === "none") return;
    const principal = await opts.authenticator.authenticate(request);
    request.principal = principal;
    await opts.rateLimiter?.hit(principal);
    if (!isAllowed(principal.role, access)) {
      throw new ApiError(
        "FORBIDDEN",
        `the role ${principal.role} may not ${request.method} ${request.routeOptions.url}`,
      );
    }
  });
  // A request that came by the server's 'upgrade' event (the live tail's WebSocket plugin listens
  // for it) owns its socket: Node neither reads nor closes it any more. An upgrade refused before
  // the route took it over (credentials, role, rate limit, not found) is answered, then its socket
  // closed here, or it would stay open for good.
  app.addHook("onResponse", async (request) => {
    if (request.headers.upgrade === undefined) return;
    const { socket } = request.raw;
    socket.end(() => socket.destroy());
  });
  app.addHook("onResponse", async (request, reply) => {
    request.log.info(
      { req: request, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime },
      "request completed",
    );
  });
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(reply, toApiError(err, request), request));
  const { audit } = opts;
  if (audit !== undefined) app.addHook("onResponse", async (request, reply) => auditRequest(audit, request, reply));
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: { code: "NOT_FOUND", message: `no route ${request.method} ${request.url}`, requestId: request.id },
    });
  });
  await registerOpenApi(app);
  for (const routes of opts.routes) await app.register(routes);
  return app;
};

/**
 * The OpenAPI 3.1 document of every route registered after this, generated by `@fastify/swagger`
 * from the routes' zod schemas (through the type provider's transform), served at
 * `GET /v1/openapi.json`.
 */
const registerOpenApi = async (app: GatewayApp): Promise<void> => {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Vigil gateway",
        version: "1",
        description: "HTTP ingest and queries of Vigil's security events; see the README for roles and errors.",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
        },
      },
    },
    // The zod schemas become JSON Schema; a route that needs credentials says so, and which role.
    transform: (input) => {
      const transformed = jsonSchemaTransform(input);
      const access = (input.route.config as { access?: Access } | undefined)?.access;
      if (access === undefined || access === "none") return transformed;
      return {
        ...transformed,
        schema: {
          ...transformed.schema,
          security: [{ bearer: [] }, { apiKey: [] }],
          summary:
            access === "any" ? "any signed-in caller" : access === "admin" ? "role admin" : `role ${access} (or admin)`,
        },
      };
    },
  });
  app.get("/v1/openapi.json", { config: { access: "none" }, schema: { hide: true } }, async () => app.swagger());
};

/** Fastify's own error codes that are the client's fault, by the API code they answer with. */
const FASTIFY_CODES: Readonly<Record<string, ApiError["code"]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BAD_REQUEST",
  FST_ERR_CTP_EMPTY_JSON_BODY: "BAD_REQUEST",
  FST_ERR_CTP_INVALID_JSON_BODY: "BAD_REQUEST",
};

const toApiError = (err: FastifyError, request: FastifyRequest): ApiError => {
  if (err instanceof ApiError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues: Issue[] = err.validation.map((issue) => ({
      path: issue.instancePath.replace(/^\//, "").replaceAll("/", "."),
      message: issue.message ?? "invalid",
    }));
    const code = request.routeOptions.config.invalidCode ?? "BAD_REQUEST";
    const where = err.validationContext ?? "request";
    return new ApiError(code, `the ${where} does not match the contract`, { issues, cause: err });
  }
  const known = err.code === undefined ? undefined : FASTIFY_CODES[err.code];
  if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return new ApiError("PAYLOAD_TOO_LARGE", err.message, { cause: err, limit: "bodyBytes" });
  }
  if (known !== undefined) return new ApiError(known, err.message, { cause: err });
  if (err.statusCode === 415) return new ApiError("UNSUPPORTED_MEDIA_TYPE", err.message, { cause: err });
  if (err.statusCode === 413) return new ApiError("PAYLOAD_TOO_LARGE", err.message, { cause: err });
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError("BAD_REQUEST", err.message, { cause: err });
  }
  return new ApiError("INTERNAL", "the gateway failed to answer; see its log with this request id", { cause: err });
};

/**
 * Answers what Node refuses before fastify sees a request (headers past Node's 16 KiB, a request
 * not received within the request timeout, unparseable HTTP) in the contract's error shape, where
 * fastify's own answer would be `431`/`408` in a shape of its own, then closes the connection.
 */
const answerClientError = (log: FastifyBaseLogger, err: NodeJS.ErrnoException, socket: Duplex): void => {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const limit =
    err.code === "HPE_HEADER_OVERFLOW"
      ? "headerBytes"
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "requestTime"
        : undefined;
  const message =
    limit === "headerBytes"
      ? "the request's headers are too large"
      : limit === "requestTime"
        ? "the request did not arrive in time"
        : "the request is not valid HTTP";
  const requestId = randomUUID();
  log.info({ code: "BAD_REQUEST", reason: err.code ?? err.message, reqId: requestId }, "request refused");
  const body = JSON.stringify({
    error: { code: "BAD_REQUEST", message, requestId, ...(limit === undefined ? {} : { limit }) },
  });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
};

const outcomeOf = (status: number): AuditOutcome => {
  if (status < 400) return "success";
  if (status === 401 || status === 403) return "denied";
  if (status === 429) return "rate_limited";
  return "failed";
};

/** Records one answered request, when it was authenticated or is an authentication event. */
const auditRequest = (audit: Pick<AuditTrail, "record">, request: FastifyRequest, reply: FastifyReply): void => {
  const { config, url } = request.routeOptions;
  // Unknown routes and CORS preflights say nothing about access; open routes without an action are not audited.
  if (config.access === undefined || (config.access === "none" && config.action === undefined)) return;
  const note = request.auditNote ?? {};
  const route = `${request.method} ${url ?? ""}`;
  audit.record({
    time: new Date().toISOString(),
    actor: request.principal?.name ?? note.actor ?? null,
    role: request.principal?.role ?? null,
    action: note.action ?? config.action ?? route,
    target: route,
    outcome: outcomeOf(reply.statusCode),
    status: reply.statusCode,
    ...(note.code === undefined ? {} : { code: note.code }),
    clientAddress: request.ip,
    requestId: request.id,
  });
};

const sendError = (reply: FastifyReply, err: ApiError, request: FastifyRequest): FastifyReply => {
  request.auditNote = { ...request.auditNote, code: err.code };
  if (err.code === "INTERNAL") request.log.error({ err: err.cause }, "request failed");
  else request.log.info({ code: err.code, reason: err.message }, "request refused");
  if (err.retryAfterSeconds !== undefined)
    reply.header("retry-after", String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
  return reply.code(err.statusCode).send({
    error: {
      code: err.code,
      message: err.message,
      requestId: request.id,
      ...(err.issues === undefined ? {} : { issues: err.issues }),
      ...(err.limit === undefined ? {} : { limit: err.limit }),
    },
  });
};
