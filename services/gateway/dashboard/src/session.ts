/**
 * The signed-in session of the page: the token pair from `POST /v1/auth/token`, refreshed before
 * the access token expires (`POST /v1/auth/refresh`), kept in memory only, so that a reload or a
 * closed tab signs out.
 */

import { reconnectDelayMs } from "./live-feed.js";

interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresIn: number;
}

/** An answer of the API that was not 2xx: its `error.code` and message. */
export class ApiFailure extends Error {
  override readonly name = "ApiFailure";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const failure = async (response: Response): Promise<ApiFailure> => {
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  return new ApiFailure(
    response.status,
    body.error?.code ?? `HTTP_${response.status}`,
    body.error?.message ?? response.statusText,
  );
};

const postJson = async <T>(path: string, body: unknown, token?: string): Promise<T> => {
  const response = await fetch(path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
};

/** How someone signs in: a user's password, or an API key. */
export type SignIn = { readonly username: string; readonly password: string } | { readonly apiKey: string };

export interface Session {
  /** The access token to send now. */
  accessToken(): string;
  /** `GET path` with the access token; one refresh and retry when it was refused as expired. */
  getJson<T>(path: string): Promise<T>;
  /** Gets a new token pair now (also done by itself before expiry). */
  refresh(): Promise<void>;
  /** Revokes the refresh family on the gateway and forgets the tokens. */
  signOut(): Promise<void>;
}

/**
 * Whether the gateway refused a refresh, so that the session cannot go on (a dead, reused or
 * malformed refresh token), as opposed to a refresh that could not be answered now (the gateway
 * unreachable or restarting, 5xx, 429), which is tried again.
 */
export const refreshRefused = (err: unknown): boolean =>
  err instanceof ApiFailure && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;

/**
 * Signs in and keeps the tokens fresh: a new pair when 80 % of the access token's life has
 * passed. A refresh the gateway cannot answer now is tried again after {@link reconnectDelayMs};
 * `onEnded` is called once when the session cannot go on (refresh refused). One refresh at a
 * time: a refresh token presented twice would revoke the whole family.
 */
export const signIn = async (how: SignIn, onEnded: (why: string) => void): Promise<Session> => {
  let pair = await postJson<TokenPair>("/v1/auth/token", how);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  let inFlight: Promise<void> | undefined;
  let failures = 0;

  const end = (why: string) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    onEnded(why);
  };
  const later = (delayMs: number) => {
    clearTimeout(timer);
    if (!ended) timer = setTimeout(() => void refresh().catch(() => undefined), delayMs);
  };
  const attempt = async () => {
    try {
      pair = await postJson<TokenPair>("/v1/auth/refresh", { refreshToken: pair.refreshToken });
    } catch (err) {
      if (refreshRefused(err)) end(err instanceof Error ? err.message : String(err));
      else later(reconnectDelayMs(failures++));
      throw err;
    }
    failures = 0;
    later(pair.expiresIn * 800);
  };
  const refresh = (): Promise<void> => {
    inFlight ??= attempt().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  later(pair.expiresIn * 800);

  return {
    accessToken: () => pair.accessToken,
    async getJson<T>(path: string): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        const response = await fetch(path, { headers: { authorization: `Bearer ${pair.accessToken}` } });
        if (response.ok) return (await response.json()) as T;
        if (response.status === 401 && attempt === 0) {
          await refresh();
          continue;
        }
        throw await failure(response);
      }
    },
    refresh,
    async signOut() {
      clearTimeout(timer);
      ended = true;
      await postJson("/v1/auth/logout", {}, pair.accessToken).catch(() => undefined);
    },
  };
};
