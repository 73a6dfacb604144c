import type { FastifyRequest } from "fastify";
import type { Authenticator } from "../app.js";
import { ApiError } from "../errors.js";
import type { AccessTokens } from "./access-tokens.js";
import type { Credentials } from "./credentials.js";

const BEARER = /^Bearer ([A-Za-z0-9_.-]+)$/;

/** Accepts `Authorization: Bearer <access token>` or `X-API-Key: <key>`, nothing else. */
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
    throw new ApiError("UNAUTHENTICATED", "send Authorization: Bearer <accessToken> or X-API-Key: <key>");
  },
});
