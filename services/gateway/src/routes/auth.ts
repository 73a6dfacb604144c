import { z } from "zod";
import type { GatewayApp } from "../app.js";
import type { AccessTokens } from "../auth/access-tokens.js";
import type { Credentials } from "../auth/credentials.js";
import type { Principal } from "../auth/principal.js";
import type { RefreshFamilies } from "../auth/refresh-families.js";
import { ApiError } from "../errors.js";

export const TokenRequest = z.union([
  z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict(),
  z.object({ apiKey: z.string().min(1).max(256) }).strict(),
]);
export const RefreshRequest = z.object({ refreshToken: z.string().min(1).max(256) });
export const TokenPair = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal("Bearer"),
  /** Seconds until the access token expires. */
  expiresIn: z.int(),
});
export type TokenPair = z.infer<typeof TokenPair>;

/** What the token routes run on. */
export interface AuthRoutesDeps {
  readonly tokens: AccessTokens;
  readonly credentials: Credentials;
  readonly families: RefreshFamilies;
  readonly accessTokenTtlMs: number;
}

/** `POST /v1/auth/token`, `/v1/auth/refresh` and `/v1/auth/logout`. */
export const authRoutes =
  (deps: AuthRoutesDeps) =>
  async (app: GatewayApp): Promise<void> => {
    const pair = async (principal: Principal, family: string, refreshToken: string): Promise<TokenPair> => ({
      accessToken: await deps.tokens.sign(principal, family),
      refreshToken,
      tokenType: "Bearer",
      expiresIn: Math.floor(deps.accessTokenTtlMs / 1_000),
    });

    app.post(
      "/v1/auth/token",
      {
        config: { access: "none", action: "auth.token" },
        schema: { body: TokenRequest, response: { 200: TokenPair } },
      },
      async (request) => {
        const { body } = request;
        const principal =
          "apiKey" in body
            ? deps.credentials.findApiKey(body.apiKey)
            : await deps.credentials.signIn(body.username, body.password);
        if (principal === undefined) {
          // The user name tried is kept for the audit; an API key, being a secret, is not.
          if ("username" in body) request.auditNote = { actor: body.username };
          throw new ApiError("UNAUTHENTICATED", "unknown user or wrong password");
        }
        request.principal = principal;
        const { family, token } = await deps.families.start(principal);
        return pair({ ...principal, via: "token" }, family, token);
      },
    );

    app.post(
      "/v1/auth/refresh",
      {
        config: { access: "none", action: "auth.refresh" },
        schema: { body: RefreshRequest, response: { 200: TokenPair } },
      },
      async (request) => {
        const outcome = await deps.families.rotate(request.body.refreshToken);
        if (!outcome.ok) {
          request.auditNote = {
            ...(outcome.name === undefined ? {} : { actor: outcome.name }),
            ...(outcome.reason === "reused" ? { action: "auth.refresh.reuse" } : {}),
          };
          const why = {
            unknown: "the refresh token is not known",
            expired: "the refresh token has expired: sign in again",
            revoked: "the refresh token was revoked: sign in again",
            reused: "the refresh token was already used: its family is revoked, sign in again",
          }[outcome.reason];
          throw new ApiError("UNAUTHENTICATED", why);
        }
        const { principal } = outcome;
        if (
          !deps.credentials.hasUser(principal.name, principal.role) &&
          !deps.credentials.hasKey(principal.name, principal.role)
        ) {
          await deps.families.revoke(outcome.family);
          throw new ApiError("UNAUTHENTICATED", "the account is no longer known: sign in again");
        }
        request.principal = principal;
        return pair(principal, outcome.family, outcome.token);
      },
    );

    app.post("/v1/auth/logout", { config: { access: "any", action: "auth.logout" } }, async (request, reply) => {
      const family = request.principal?.family;
      if (family !== undefined) await deps.families.revoke(family);
      return reply.code(204).send();
    });
  };
