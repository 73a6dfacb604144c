import { createLogger } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type Authenticator, buildGateway, type GatewayApp } from "./app.js";
import type { Principal } from "./auth/principal.js";
import { ApiError } from "./errors.js";
import { testSettings } from "./settings.fixture.js";

const settings = testSettings({
  corsOrigins: ["https://console.example.org"],
  bodyLimit: 4_096,
  maxJsonDepth: 4,
  requestTimeoutMs: 5_000,
  publishTimeoutMs: 1_000,
});

/** Callers named by a bare `Authorization: <role>` header: the hooks, not the credentials, are under test here. */
const roleHeader: Authenticator = {
  async authenticate(request) {
    const role = request.headers.authorization;
    if (role !== "producer" && role !== "viewer" && role !== "admin") throw new ApiError("UNAUTHENTICATED", "no");
    return { name: role, role, via: "token" } satisfies Principal;
  },
};

const echo = async (app: GatewayApp) => {
  app.post(
    "/echo",
    { config: { access: "producer" }, schema: { body: z.object({ n: z.int() }) } },
    async (request) => ({
      n: request.body.n,
    }),
  );
  app.get("/open", { config: { access: "none" } }, async () => ({ ok: true }));
  app.get("/boom", { config: { access: "none" } }, async () => {
    throw new Error("secret detail");
  });
};

const build = () =>
  buildGateway({ log: createLogger("gateway", "silent"), settings, authenticator: roleHeader, routes: [echo] });

describe("buildGateway", () => {
  it("answers errors as {error: {code, message, requestId}} with the contract's statuses", async () => {
    const app = await build();
    const cases = [
      [{ method: "POST", url: "/echo", payload: { n: 1 } }, 401, "UNAUTHENTICATED"],
      [{ method: "POST", url: "/echo", headers: { authorization: "viewer" }, payload: { n: 1 } }, 403, "FORBIDDEN"],
      [
        { method: "POST", url: "/echo", headers: { authorization: "producer" }, payload: { n: "x" } },
        400,
        "BAD_REQUEST",
      ],
      [
        {
          method: "POST",
          url: "/echo",
          headers: { authorization: "producer", "content-type": "text/plain" },
          payload: "n",
        },
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      ],
      [
        {
          method: "POST",
          url: "/echo",
          headers: { authorization: "producer" },
          payload: { n: 1, pad: "x".repeat(5_000) },
        },
        413,
        "PAYLOAD_TOO_LARGE",
      ],
      [
        {
          method: "POST",
          url: "/echo",
          headers: { authorization: "admin", "content-type": "application/json" },
          payload: "[[[[[[1]]]]]]",
        },
        400,
        "BAD_REQUEST",
      ],
      [
        {
          method: "POST",
          url: "/echo",
          headers: { authorization: "admin", "content-type": "application/json" },
          payload: Buffer.from([0x7b, 0xff, 0x7d]),
        },
        400,
        "BAD_REQUEST",
      ],
      [{ method: "GET", url: "/boom" }, 500, "INTERNAL"],
    ] as const;
    for (const [request, status, code] of cases) {
      const response = await app.inject(request);
      expect(response.statusCode, JSON.stringify(request.url)).toBe(status);
      const body = response.json();
      expect(body.error.code).toBe(code);
      expect(body.error.requestId).toBe(response.headers["x-request-id"]);
      expect(body.error.message).not.toContain("secret detail");
    }
    await app.close();
  });

  it("lets an admin do what a producer may, and keeps a plain client request id", async () => {
    const app = await build();
    const response = await app.inject({
      method: "POST",
      url: "/echo",
      headers: { authorization: "admin", "x-request-id": "abc-123" },
      payload: { n: 7 },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ n: 7 });
    expect(response.headers["x-request-id"]).toBe("abc-123");
    const odd = await app.inject({ method: "GET", url: "/open", headers: { "x-request-id": "a b\u0001" } });
    expect(odd.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    await app.close();
  });

  it("sends security headers and CORS only for allowed origins", async () => {
    const app = await build();
    const allowed = await app.inject({
      method: "GET",
      url: "/open",
      headers: { origin: "https://console.example.org" },
    });
    expect(allowed.headers["x-content-type-options"]).toBe("nosniff");
    expect(allowed.headers["x-frame-options"]).toBe("DENY");
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://console.example.org");
    const other = await app.inject({ method: "GET", url: "/open", headers: { origin: "https://evil.example" } });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    await app.close();
  });

  it("refuses a route that does not say who may call it", async () => {
    await expect(
      buildGateway({
        log: createLogger("gateway", "silent"),
        settings,
        authenticator: roleHeader,
        routes: [async (app) => void app.get("/x", async () => ({}))],
      }),
    ).rejects.toThrow(/does not say who may call it/);
  });
});
