import { createHash } from "node:crypto";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { Logger } from "@vigil/runtime";
import type { Principal } from "./auth/principal.js";
import { ApiError } from "./errors.js";
import type { RateCounters } from "./rate-counters.js";

/** Length of one counting window. */
export const RATE_WINDOW_MS = 60_000;

/** How often one hit retries after losing a compare-and-set race to another gateway. */
const MAX_RACES = 25;

/** Requests a minute; 0 means no limit. */
export interface RateLimits {
  readonly userPerMinute: number;
  readonly keyPerMinute: number;
}

/** Counts each caller's requests per minute, shared by every gateway on the same bucket. */
export interface RateLimiter {
  /** Counts one request of `principal`; rejects with `RATE_LIMITED` (and `Retry-After`) past its limit. */
  hit(principal: Principal): Promise<void>;
}

/** What {@link createRateLimiter} runs on. */
export interface RateLimiterDeps {
  /** The counters, in a bucket whose entries live a little over one window (its TTL). */
  readonly counters: RateCounters;
  readonly limits: RateLimits;
  /** Whether a caller is an API key (its own limit) rather than a user. */
  readonly isApiKey: (principal: Principal) => boolean;
  readonly log: Logger;
  /**
   * Whether the NATS connection is up now: while it is not, requests are let through at once
   * instead of each waiting for the bucket's timeout before NATS being away fails them anyway.
   */
  readonly connected?: () => boolean;
  readonly now?: () => number;
}

/** What one counting round answers each hit that waited for it. */
type Verdict = "allowed" | "refused" | "uncounted";

/**
 * Most of a caller's limit one gateway takes ahead of its requests: what it may hold unspent, and so
 * refuse early on other gateways, is at most this share of the limit.
 */
export const LEASE_SHARE = 0.05;

/** A gateway takes ahead what the caller sent it in about this long (within {@link LEASE_SHARE}). */
export const LEASE_AHEAD_MS = 1_000;

/** A new lease is taken in the background once the one held has this share of it left. */
const REFILL_AT = 0.25;

/** One caller's window on this gateway. */
interface Lease {
  readonly window: number;
  /** Requests of the shared count this gateway took and has not let through yet. */
  available: number;
  /** The shared count reached the limit: nobody gets more this window. */
  exhausted: boolean;
  /** Hits on this gateway this window, and when the first came: the caller's rate here. */
  hits: number;
  readonly firstHitAt: number;
  /** Hits waiting for the next counting round. */
  waiting: ((verdict: Verdict) => void)[];
  counting: boolean;
}

/**
 * Fixed one-minute windows counted in a JetStream key-value bucket: one key per caller and window,
 * raised by compare-and-set (a write at the revision read, 0 for the first request), so that any
 * number of gateways share each count exactly and together never let more than the limit through.
 * A gateway counts ahead: each round takes, besides the hits waiting for it, a lease of what the
 * caller sent this gateway in about {@link LEASE_AHEAD_MS} (at most {@link LEASE_SHARE} of the
 * limit), and lets the next hits through from it without a round trip, taking the next lease in the
 * background before this one runs out. A busy caller costs two bucket round trips a second per
 * gateway, not per request; what other gateways hold unspent may be refused early here, at most
 * their leases. Once the count reached the limit, the window's hits are refused without asking.
 * When the bucket cannot be reached or the races are lost {@link MAX_RACES} times in a row, the
 * round's requests are let through and the fact logged: the limit protects capacity, and NATS being
 * away fails the request anyway. While the connection is known to be down, nothing is counted, so
 * that the answer (503) is not held up by the bucket's timeout.
 */
export const createRateLimiter = (deps: RateLimiterDeps): RateLimiter => {
  const now = deps.now ?? Date.now;
  /** The current window's lease of each caller that sent something in it. */
  const leases = new Map<string, Lease>();
  let newestWindow = Number.NEGATIVE_INFINITY;

  /** Adds up to `wanted` requests to `key`'s count; resolves to how many fitted under `limit`. */
  const countRound = async (key: string, limit: number, wanted: number): Promise<number> => {
    for (let race = 0; race < MAX_RACES; race++) {
      const { count: used, revision } = await deps.counters.read(key);
      const granted = Math.max(0, Math.min(wanted, limit - used));
      if (granted === 0) return 0;
      try {
        await deps.counters.write(key, used + granted, revision);
        return granted;
      } catch (err) {
        // Another gateway wrote the key between our read and our write: read it again.
        if (!isRevisionConflict(err)) throw err;
      }
    }
    deps.log.warn({ key }, "lost every compare-and-set race on a rate counter; the requests are let through");
    return wanted;
  };

  /** What `lease` should hold for its caller: about {@link LEASE_AHEAD_MS} of its hits here, within the share. */
  const target = (lease: Lease, limit: number): number => {
    const perAhead = (lease.hits * LEASE_AHEAD_MS) / Math.max(LEASE_AHEAD_MS, now() - lease.firstHitAt);
    return Math.min(Math.max(1, Math.floor(limit * LEASE_SHARE)), Math.ceil(perAhead));
  };

  /** Whether `lease` needs a counting round: hits wait, or what it holds runs low. */
  const needsRound = (lease: Lease, limit: number): boolean =>
    !lease.counting &&
    !lease.exhausted &&
    (lease.waiting.length > 0 || lease.available <= target(lease, limit) * REFILL_AT);

  /** Runs `key`'s rounds while `lease` needs them; the first hits of a round are the ones allowed. */
  const drain = async (key: string, lease: Lease, limit: number): Promise<void> => {
    while (needsRound(lease, limit)) {
      // Hits that queued while the last round was in flight first take what it brought.
      const round = lease.waiting.splice(0, lease.waiting.length);
      const served = round.splice(0, Math.min(round.length, lease.available));
      lease.available -= served.length;
      for (const settle of served) settle("allowed");
      const wanted = round.length + Math.max(0, target(lease, limit) - lease.available);
      if (wanted === 0) return;
      lease.counting = true;
      try {
        const granted = await countRound(key, limit, wanted);
        if (granted < wanted) lease.exhausted = true;
        for (const [index, settle] of round.entries()) settle(index < granted ? "allowed" : "refused");
        lease.available += Math.max(0, granted - round.length);
      } catch (err) {
        deps.log.warn({ err, key }, "the rate counter could not be read or written; the requests are let through");
        for (const settle of round) settle("uncounted");
        // Only hits that came meanwhile try again; a lease is not refilled from a failing bucket.
        if (lease.waiting.length === 0) return;
      } finally {
        lease.counting = false;
      }
    }
    // The count reached the limit: what still waits gets what the lease holds, then is refused.
    if (lease.exhausted && !lease.counting) {
      for (const settle of lease.waiting.splice(0, lease.waiting.length)) {
        if (lease.available > 0) {
          lease.available--;
          settle("allowed");
        } else settle("refused");
      }
    }
  };

  /** `key`'s lease in `window`; the first hit of a new window drops every older lease. */
  const leaseOf = (key: string, window: number, at: number): Lease => {
    if (window > newestWindow) {
      newestWindow = window;
      for (const [name, old] of leases) if (old.window < window) leases.delete(name);
    }
    let lease = leases.get(key);
    if (lease === undefined) {
      lease = { window, available: 0, exhausted: false, hits: 0, firstHitAt: at, waiting: [], counting: false };
      leases.set(key, lease);
    }
    return lease;
  };

  /** Lets one hit through, refuses it, or says it could not be counted, from `lease` or its next round. */
  const take = (key: string, lease: Lease, limit: number): Verdict | Promise<Verdict> => {
    lease.hits++;
    let verdict: Verdict | Promise<Verdict>;
    if (lease.available > 0) {
      lease.available--;
      verdict = "allowed";
    } else if (lease.exhausted) {
      verdict = "refused";
    } else {
      verdict = new Promise<Verdict>((settle) => lease.waiting.push(settle));
    }
    if (needsRound(lease, limit)) void drain(key, lease, limit);
    return verdict;
  };

  return {
    async hit(principal) {
      const apiKey = deps.isApiKey(principal);
      const limit = apiKey ? deps.limits.keyPerMinute : deps.limits.userPerMinute;
      if (limit === 0 || deps.connected?.() === false) return;
      const at = now();
      const window = Math.floor(at / RATE_WINDOW_MS);
      const name = createHash("sha256").update(principal.name).digest("hex").slice(0, 32);
      const key = `${apiKey ? "key" : "user"}.${name}.${window}`;
      if ((await take(key, leaseOf(key, window, at), limit)) !== "refused") return;
      const retryAfterSeconds = ((window + 1) * RATE_WINDOW_MS - at) / 1_000;
      throw new ApiError(
        "RATE_LIMITED",
        `more than ${limit} requests this minute for this ${apiKey ? "API key" : "user"}; retry later`,
        { retryAfterSeconds },
      );
    },
  };
};

/** JetStream's "wrong last sequence" (10071), which a compare-and-set that lost its race gets. */
const isRevisionConflict = (err: unknown): boolean =>
  (err instanceof JetStreamApiError && err.code === 10071) ||
  (err instanceof Error && /wrong last sequence/i.test(err.message));
