import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiFailure, refreshRefused, signIn } from "./session.js";

/** Answers the page's requests in order from `answers`; records each path and refresh token sent. */
const fakeGateway = (answers: (() => Response)[]) => {
  const sent: { path: string; refreshToken?: string }[] = [];
  vi.stubGlobal("fetch", async (path: string, init?: RequestInit) => {
    const body = init?.body === undefined ? {} : (JSON.parse(String(init.body)) as { refreshToken?: string });
    sent.push({ path, ...(body.refreshToken === undefined ? {} : { refreshToken: body.refreshToken }) });
    const answer = answers.shift();
    if (answer === undefined) throw new Error(`no answer left for ${path}`);
    return answer();
  });
  return sent;
};

const pair = (n: number) =>
  new Response(JSON.stringify({ accessToken: `access-${n}`, refreshToken: `refresh-${n}`, expiresIn: 10 }), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
const unreachable = () => {
  throw new TypeError("Failed to fetch");
};
const refused = () =>
  new Response(JSON.stringify({ error: { code: "UNAUTHENTICATED", message: "refresh token is not valid" } }), {
    status: 401,
  });

describe("the dashboard's session", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("tells a refused refresh from one the gateway could not answer", () => {
    expect(refreshRefused(new ApiFailure(401, "UNAUTHENTICATED", "no"))).toBe(true);
    expect(refreshRefused(new ApiFailure(400, "VALIDATION", "no"))).toBe(true);
    expect(refreshRefused(new ApiFailure(429, "RATE_LIMITED", "later"))).toBe(false);
    expect(refreshRefused(new ApiFailure(503, "UNAVAILABLE", "later"))).toBe(false);
    expect(refreshRefused(new TypeError("Failed to fetch"))).toBe(false);
  });

  it("keeps the session while the gateway is unreachable and refreshes once it is back", async () => {
    const sent = fakeGateway([() => pair(1), unreachable, unreachable, () => pair(2)]);
    const ended: string[] = [];
    const session = await signIn({ username: "u", password: "p" }, (why) => ended.push(why));
    // 80 % of a 10 s token: the first refresh, which fails, then the retries 0.5 s and 1 s later.
    await vi.advanceTimersByTimeAsync(8_000);
    await vi.advanceTimersByTimeAsync(500);
    expect(session.accessToken()).toBe("access-1");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(session.accessToken()).toBe("access-2");
    expect(ended).toEqual([]);
    // Every attempt presented the same refresh token, the one no answer had replaced.
    expect(sent.slice(1).map((request) => request.refreshToken)).toEqual(["refresh-1", "refresh-1", "refresh-1"]);
  });

  it("ends the session once when the gateway refuses the refresh, and stops refreshing", async () => {
    const sent = fakeGateway([() => pair(1), refused]);
    const ended: string[] = [];
    const session = await signIn({ apiKey: "k" }, (why) => ended.push(why));
    await expect(session.refresh()).rejects.toThrow("refresh token is not valid");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ended).toEqual(["refresh token is not valid"]);
    expect(sent).toHaveLength(2);
  });

  it("sends one refresh when several ask at once: a refresh token presented twice revokes the family", async () => {
    const sent = fakeGateway([() => pair(1), () => pair(2)]);
    const session = await signIn({ apiKey: "k" }, () => undefined);
    await Promise.all([session.refresh(), session.refresh(), session.refresh()]);
    expect(sent.map((request) => request.path)).toEqual(["/v1/auth/token", "/v1/auth/refresh"]);
    expect(session.accessToken()).toBe("access-2");
  });
});
