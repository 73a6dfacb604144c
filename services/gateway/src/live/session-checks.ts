import type { Principal } from "../auth/principal.js";
import type { LiveSession } from "./live-session.js";

/** What decides whether a live-tail caller may stay connected, beyond its token's lifetime. */
export interface SessionChecks {
  /** Whether the refresh family `family` was revoked (logout, or a refresh token presented twice). */
  isRevoked(family: string): Promise<boolean>;
  /** Whether `principal` is still a user or API key with its role (the credentials file). */
  isCurrent(principal: Principal): boolean;
}

/**
 * Ends each open session whose caller lost its role (`ROLE_CHANGED`) or signed out
 * (`SESSION_REVOKED`). Each refresh family is looked up once, however many sessions share it; a
 * family that cannot be read now is left alone until the next check, and `onError` is told.
 */
export const checkSessions = async (
  sessions: Iterable<LiveSession>,
  checks: SessionChecks,
  onError: (err: unknown) => void,
): Promise<void> => {
  const revoked = new Map<string, Promise<boolean>>();
  const signedIn: LiveSession[] = [];
  for (const session of [...sessions]) {
    if (session.closed) continue;
    if (!checks.isCurrent(session.principal)) {
      session.end("ROLE_CHANGED");
      continue;
    }
    const { family } = session.principal;
    if (family === undefined) continue;
    signedIn.push(session);
    if (!revoked.has(family)) {
      revoked.set(
        family,
        checks.isRevoked(family).catch((err: unknown) => {
          onError(err);
          return false;
        }),
      );
    }
  }
  for (const session of signedIn) {
    if (await revoked.get(session.principal.family ?? "")) session.end("SESSION_REVOKED");
  }
};
