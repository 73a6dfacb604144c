import type { FastifyRequest } from "fastify";
import type { Authenticator } from "../app.js";
import { ApiError } from "../errors.js";
import { TOKEN_PROTOCOL_PREFIX } from "../live/frames.js";
import type { AccessTokens } from "./access-tokens.js";
import type { Credentials } from "./credentials.js";

const BEARER = /^Bearer ([A-Za-z0-9_.-]+)$/;

/**
 * The access token a WebSocket route may take where a browser can put it: the `access_token`
 * query parameter, or a `Sec-WebSocket-Protocol` entry `bearer.<token>` (a browser's WebSocket
 * cannot set `Authorization`). Other routes never read tokens from there: a URL ends up in logs.
 */
const webSocketToken = (request: FastifyRequest): string | undefined => {
  if (request.routeOptions.config.webSocketToken !== true) return undefined;
  const fromQuery = (request.query as Record<string, unknown> | undefined)?.access_token;
  if (typeof fromQuery === "string") return fromQuery;
  const protocols = request.headers["sec-websocket-protocol"];
  if (typeof protocols !== "string") return undefined;
  return protocols
    .split(",")
    .map((entry) => entry.trim())
    .find((entry) => entry.startsWith(TOKEN_PROTOCOL_PREFIX))
    ?.slice(TOKEN_PROTOCOL_PREFIX.length);
};

/**
 * Accepts `Authorization: Bearer <access token>` or `X-API-Key: <key>`, and on WebSocket routes
 * the access token as {@link webSocketToken} finds it; nothing else.
 */
export const createAuthenticator = (tokens: AccessTokens, credentials: Credentials): Authenticator => ({
  async authenticate(request: FastifyRequest) {
    const { authorization } = request.headers;
    const apiKey = request.headers["x-api-key"];
    if (authorization !== undefined) {
      const match = BEARER.exec(authorization);
      if (match?.[1] === undefined)
        throw new ApiError("UNAUTHENTICATED", "expected Authorization: Bearer <accessToken>");
      return tokens.verify(match[1]);
    }
    if (typeof apiKey === "string") {
      const principal = credentials.findApiKey(apiKey);
      if (principal === undefined) throw new ApiError("UNAUTHENTICATED", "the API key is not known");
      return principal;
    }
    const token = webSocketToken(request);
    if (token !== undefined) return tokens.verify(token);
    throw new ApiError("UNAUTHENTICATED", "send Authorization: Bearer <accessToken> or X-API-Key: <key>");
  },
});
