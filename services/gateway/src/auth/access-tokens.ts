import { createPrivateKey, createPublicKey, type KeyObject, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { ApiError } from "../errors.js";
import { type Principal, Role } from "./principal.js";

const ISSUER = "vigil-gateway";
const AUDIENCE = "vigil";

/** The key that signs access tokens could not be used. */
export class SigningKeyError extends Error {
  override readonly name = "SigningKeyError";
}

/** Signs and verifies the gateway's access tokens. */
export interface AccessTokens {
  /** `kid` of the signing key: the RFC 7638 thumbprint of its public key. */
  readonly keyId: string;
  sign(principal: Principal, family: string): Promise<string>;
  /** The caller the token names; rejects with `UNAUTHENTICATED` for anything but a valid, unexpired token of ours. */
  verify(token: string): Promise<Principal>;
}

const Claims = z.object({ sub: z.string().min(1), role: Role, fam: z.string().min(1), exp: z.number() });

const algorithmOf = (key: KeyObject): "EdDSA" | "ES256" => {
  if (key.asymmetricKeyType === "ed25519") return "EdDSA";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  throw new SigningKeyError(
    `the signing key is ${key.asymmetricKeyType ?? "not asymmetric"}${
      key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ""
    }: use an Ed25519 or P-256 key`,
  );
};

/**
 * Access tokens signed with `pem`, a PKCS#8 private key (Ed25519 or P-256), valid for `ttlMs`.
 * Verification accepts only this key's algorithm and `kid`, so `alg: none`, an HMAC made with the
 * public key, or a token of another key is refused.
 */
export const createAccessTokens = async (pem: string, ttlMs: number): Promise<AccessTokens> => {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: "pem" });
  } catch (cause) {
    throw new SigningKeyError("the signing key is not a PEM private key", { cause });
  }
  const alg = algorithmOf(privateKey);
  const publicKey = createPublicKey(privateKey);
  const keyId = await calculateJwkThumbprint(await exportJWK(publicKey));
  const verifying = new Map([[keyId, publicKey]]);
  return {
    keyId,
    sign: (principal, family) =>
      new SignJWT({ role: principal.role, fam: family })
        .setProtectedHeader({ alg, kid: keyId, typ: "JWT" })
        .setSubject(principal.name)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setJti(randomUUID())
        .setExpirationTime(new Date(Date.now() + ttlMs))
        .sign(privateKey),
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(
          token,
          (header) => {
            const key = header.kid === undefined ? undefined : verifying.get(header.kid);
            if (key === undefined) throw new ApiError("UNAUTHENTICATED", "the access token names an unknown key");
            return key;
          },
          { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE, typ: "JWT" },
        ));
      } catch (cause) {
        if (cause instanceof ApiError) throw cause;
        const expired = (cause as { code?: string }).code === "ERR_JWT_EXPIRED";
        throw new ApiError(
          "UNAUTHENTICATED",
          expired ? "the access token has expired" : "the access token is not valid",
          {
            cause,
          },
        );
      }
      const claims = Claims.safeParse(payload);
      if (!claims.success) throw new ApiError("UNAUTHENTICATED", "the access token is not valid");
      return {
        name: claims.data.sub,
        role: claims.data.role,
        via: "token",
        family: claims.data.fam,
        expiresAt: claims.data.exp * 1_000,
      };
    },
  };
};
