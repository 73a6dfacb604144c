import type { IncomingMessage } from "node:http";
import websocket from "@fastify/websocket";
import { EventsQuery } from "@vigil/shared";
import { z } from "zod";
import type { GatewayApp } from "../app.js";
import type { AuditTrail } from "../audit/audit-trail.js";
import { ApiError } from "../errors.js";
import { coalescedLiveSocket } from "../live/coalesced-socket.js";
import { LIVE_PROTOCOL, MAX_CLIENT_FRAME_BYTES, parseClientFrame } from "../live/frames.js";
import type { LiveHold, LiveRefusal, LiveTail } from "../live/live-tail.js";
import { integerParam } from "./reads.js";

/** `GET /v1/live`'s query string. */
export const LiveQueryString = z.object({
  /** Only events with a criticality strictly above it; every event when absent. */
  minCriticality: integerParam.pipe(EventsQuery.shape.minCriticality).optional(),
  /** The cursor of the last event the client has: replay what came after it first. */
  after: z
    .string()
    .regex(/^[0-9]{1,16}$/, "expected a cursor: an integer of at least 0")
    .transform(Number)
    .pipe(z.int().min(0).max(Number.MAX_SAFE_INTEGER))
    .optional(),
  /** The access token, for clients that cannot send headers (browsers); a subprotocol entry is better. */
  access_token: z.string().optional(),
});

/** What the live route runs on. */
export interface LiveRoutesDeps {
  readonly tail: LiveTail;
  /** Browser origins that may open the live tail (the CORS allowlist); requests without `Origin` are not browsers. */
  readonly corsOrigins: readonly string[];
  readonly audit?: Pick<AuditTrail, "record"> | undefined;
}

const REFUSALS: Readonly<Record<LiveRefusal, () => ApiError>> = {
  full: () =>
    new ApiError("UNAVAILABLE", "the live tail has no room for another connection; retry later", {
      retryAfterSeconds: 5,
    }),
  role: () => new ApiError("FORBIDDEN", "the caller's role no longer allows the live tail"),
  revoked: () => new ApiError("UNAUTHENTICATED", "signed out: sign in again"),
};

/**
 * Bytes of held frames that go to the kernel at once rather than at the end of the turn: half the
 * smallest `GATEWAY_LIVE_MAX_BUFFERED`, so holding frames never brings a client to its bound.
 */
const FLUSH_BYTES = 16_384;

/**
 * `GET /v1/live`, the live tail over WebSocket (README, "Live tail"). Authentication, the role, the
 * rate limit, the query string, the origin and the room left are all checked on the HTTP request,
 * before the upgrade, and refused with the API's usual errors, and the shared feed follows `LIVE`
 * before the upgrade too; once upgraded, the connection ends only with one of the live tail's close
 * codes.
 */
export const liveRoutes =
  (deps: LiveRoutesDeps) =>
  async (app: GatewayApp): Promise<void> => {
    /** The feed held for each upgrade request between its checks and its session. */
    const holds = new WeakMap<IncomingMessage, LiveHold>();
    const holdFeed = async (raw: IncomingMessage): Promise<void> => {
      const hold = await deps.tail.holdFeed().catch((cause: unknown) => {
        throw new ApiError("UNAVAILABLE", "the live tail cannot follow the events now; retry later", {
          retryAfterSeconds: 2,
          cause,
        });
      });
      // A handshake that fails, or a client gone before it, leaves no session to release the hold.
      raw.socket.once("close", hold.release);
      if (raw.socket.destroyed) hold.release();
      holds.set(raw, hold);
    };
    await app.register(websocket, {
      options: {
        maxPayload: MAX_CLIENT_FRAME_BYTES,
        perMessageDeflate: false,
        clientTracking: false,
        handleProtocols: (protocols) => (protocols.has(LIVE_PROTOCOL) ? LIVE_PROTOCOL : false),
      },
      // ws closes the connection itself (1002, 1009) after such an error; it only needs saying.
      errorHandler: (err, _socket, request) => request.log.info({ err }, "live-tail connection error"),
      preClose: async () => deps.tail.hub.endAll("GOING_AWAY"),
    });
    app.route({
      method: "GET",
      url: "/v1/live",
      config: { access: "viewer", action: "live.read", webSocketToken: true },
      schema: {
        querystring: LiveQueryString,
        description:
          "WebSocket live tail (Upgrade: websocket): JSON text frames {type: event|heartbeat|gap|pong}; " +
          "see the README for frames, close codes and resuming with after=<cursor>.",
      },
      preHandler: async (request) => {
        // A page may open it from the gateway's own origin (the dashboard) or from an allowed one;
        // a browser cannot forge either header, so another site's page is refused.
        const { origin, host } = request.headers;
        const own = `${request.protocol}://${host ?? ""}`;
        if (origin !== undefined && origin !== own && !deps.corsOrigins.includes(origin)) {
          throw new ApiError("FORBIDDEN", "this origin may not open the live tail (GATEWAY_CORS_ORIGINS)");
        }
        const { principal } = request;
        const refusal =
          principal === undefined
            ? undefined
            : await deps.tail.refusal(principal).catch((cause: unknown) => {
                throw new ApiError("UNAVAILABLE", "the caller's session cannot be checked now; retry later", {
                  retryAfterSeconds: 2,
                  cause,
                });
              });
        if (refusal !== undefined) throw REFUSALS[refusal]();
        // A plain GET is answered 400 by the handler: it needs no feed.
        if (request.ws) await holdFeed(request.raw);
      },
      wsHandler: (socket, request) => {
        const { principal } = request;
        const hold = holds.get(request.raw);
        if (principal === undefined || hold === undefined) return socket.close(1011, "no caller");
        const { minCriticality, after } = request.query;
        // ws writes on the upgraded request's own socket.
        const sender = coalescedLiveSocket(socket, request.raw.socket, FLUSH_BYTES);
        const session = deps.tail.open(sender, principal, { minCriticality, after }, hold);
        socket.on("message", (data, isBinary) => {
          if (parseClientFrame(data, isBinary).ok) session.pong();
          else session.end("BAD_FRAME");
        });
        socket.on("close", () => session.end("CLIENT_CLOSED"));
        deps.audit?.record({
          time: new Date().toISOString(),
          actor: principal.name,
          role: principal.role,
          action: "live.read",
          target: "GET /v1/live",
          outcome: "success",
          status: 101,
          clientAddress: request.ip,
          requestId: request.id,
        });
        // An upgraded request has no response to log: this is its one line, with the request.
        request.log.info({ req: request, minCriticality, after }, "live tail opened");
        session.onEnd((reason) => request.log.info({ reason, cursor: session.cursor }, "live tail closed"));
      },
      handler: async () => {
        throw new ApiError("BAD_REQUEST", "GET /v1/live speaks WebSocket only: send Upgrade: websocket");
      },
    });
  };
