import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { ApiError } from "../errors.js";
import { type Principal, Role } from "./principal.js";

/**
 * One refresh family: every refresh token descended from one sign-in. Only the digest of the
 * newest token is kept; presenting any older one is reuse.
 */
const Family = z.object({
  name: z.string(),
  role: Role,
  current: z.string(),
  expiresAt: z.number(),
  revoked: z.boolean(),
});
type Family = z.infer<typeof Family>;

/** What a refresh did, for the caller to act on and audit. */
export type RefreshOutcome =
  | { readonly ok: true; readonly principal: Principal; readonly family: string; readonly token: string }
  | { readonly ok: false; readonly reason: "unknown" | "expired" | "revoked" | "reused"; readonly name?: string };

/** Refresh-token families kept in a JetStream key-value bucket, so every gateway instance shares them. */
export interface RefreshFamilies {
  /** Starts a family for a fresh sign-in; resolves to its first refresh token. */
  start(principal: Principal): Promise<{ family: string; token: string }>;
  /** Trades `token` for the next of its family; a token already traded revokes the family. */
  rotate(token: string): Promise<RefreshOutcome>;
  /** Revokes a family; later refreshes of it fail. */
  revoke(family: string): Promise<void>;
  /** Whether a family was revoked (a logout, or a reused refresh token); an unknown family was not. */
  isRevoked(family: string): Promise<boolean>;
}

const digest = (secret: string): string => createHash("sha256").update(secret).digest("base64url");
const newSecret = (): string => randomBytes(32).toString("base64url");
const encode = (family: Family): string => JSON.stringify(family);
/** Refresh tokens are `<family>.<secret>`: the family names the key, the secret proves possession. */
const TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/** How often a refresh retries after losing a compare-and-set race to another gateway. */
const MAX_RACES = 5;

/** Families in `kv`, each living `ttlMs` from its sign-in. */
export const createRefreshFamilies = (kv: KV, ttlMs: number, now: () => number = Date.now): RefreshFamilies => {
  const read = async (id: string): Promise<{ family: Family; revision: number } | undefined> => {
    const entry = await kv.get(id);
    if (entry === null || entry.operation !== "PUT") return undefined;
    const family = Family.safeParse(entry.json());
    return family.success ? { family: family.data, revision: entry.revision } : undefined;
  };
  const rotateOnce = async (id: string, secret: string): Promise<RefreshOutcome | "race"> => {
    const found = await read(id);
    if (found === undefined) return { ok: false, reason: "unknown" };
    const { family, revision } = found;
    if (family.revoked) return { ok: false, reason: "revoked", name: family.name };
    if (family.expiresAt <= now()) return { ok: false, reason: "expired", name: family.name };
    const presented = Buffer.from(digest(secret));
    if (!timingSafeEqual(presented, Buffer.from(family.current))) {
      try {
        await kv.update(id, encode({ ...family, revoked: true }), revision);
      } catch {
        return "race";
      }
      return { ok: false, reason: "reused", name: family.name };
    }
    const next = newSecret();
    try {
      await kv.update(id, encode({ ...family, current: digest(next) }), revision);
    } catch {
      return "race";
    }
    return {
      ok: true,
      principal: { name: family.name, role: family.role, via: "token", family: id },
      family: id,
      token: `${id}.${next}`,
    };
  };
  return {
    async start(principal) {
      const id = randomBytes(16).toString("base64url");
      const secret = newSecret();
      await kv.create(
        id,
        encode({
          name: principal.name,
          role: principal.role,
          current: digest(secret),
          expiresAt: now() + ttlMs,
          revoked: false,
        }),
      );
      return { family: id, token: `${id}.${secret}` };
    },
    async rotate(token) {
      const match = TOKEN.exec(token);
      if (match === null) return { ok: false, reason: "unknown" };
      const [, id = "", secret = ""] = match;
      for (let race = 0; race < MAX_RACES; race++) {
        const outcome = await rotateOnce(id, secret);
        if (outcome !== "race") return outcome;
      }
      throw new ApiError("UNAVAILABLE", "the refresh could not be recorded; try again", { retryAfterSeconds: 1 });
    },
    async revoke(id) {
      for (let race = 0; race < MAX_RACES; race++) {
        const found = await read(id);
        if (found === undefined || found.family.revoked) return;
        try {
          await kv.update(id, encode({ ...found.family, revoked: true }), found.revision);
          return;
        } catch {
          // Another gateway changed the family in between: read it again.
        }
      }
      throw new ApiError("UNAVAILABLE", "the logout could not be recorded; try again", { retryAfterSeconds: 1 });
    },
    isRevoked: async (id) => (await read(id))?.family.revoked === true,
  };
};
