import { Counter } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { createMetricsRegistry, DEFAULT_OPS_PORTS, type OpsServer, opsEnv, startOpsServer } from "./ops-server.js";

const log = createLogger("test", "silent");

describe("opsEnv", () => {
  it("gives every long-running service its own default port", () => {
    const ports = Object.values(DEFAULT_OPS_PORTS);
    expect(new Set(ports).size).toBe(ports.length);
    expect(opsEnv(DEFAULT_OPS_PORTS.writer).parse({})).toEqual({ OPS_PORT: 9465, OPS_HOST: "127.0.0.1" });
    expect(opsEnv(DEFAULT_OPS_PORTS.reader).parse({ OPS_PORT: "0" })).toMatchObject({ OPS_PORT: 0 });
    expect(opsEnv(9464).safeParse({ OPS_PORT: "65536" }).success).toBe(false);
  });
});

describe("startOpsServer", () => {
  let server: OpsServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const start = async (checks: Record<string, () => boolean>) => {
    const registry = createMetricsRegistry("test");
    new Counter({ name: "vigil_test_total", help: "a test counter", registers: [registry] }).inc(3);
    server = await startOpsServer({ OPS_PORT: 0, OPS_HOST: "127.0.0.1" }, registry, checks, log);
    const base = `http://127.0.0.1:${server.port}`;
    return (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);
  };

  it("answers /healthz with 200 whatever the checks say", async () => {
    const get = await start({ nats: () => false });
    const response = await get("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("answers /readyz with 200 when every check passes, and 503 naming the failing ones otherwise", async () => {
    let influx = true;
    const get = await start({ nats: () => true, influx: () => influx });
    const ready = await get("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", failing: [] });
    influx = false;
    const notReady = await get("/readyz?verbose=1");
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: "not ready", failing: ["influx"] });
  });

  it("serves the registry's metrics in Prometheus text format, labelled with the service", async () => {
    const get = await start({});
    const response = await get("/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await response.text()).toMatch(/^vigil_test_total\{service="test"\} 3$/m);
  });

  it("refuses other methods with 405 and other paths with 404", async () => {
    const get = await start({});
    const post = await get("/healthz", { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET");
    expect((await get("/")).status).toBe(404);
    expect((await get("/healthz/extra")).status).toBe(404);
  });

  it("fails start-up with a StartupError naming the address when the port is taken", async () => {
    await start({});
    const taken = { OPS_PORT: server?.port ?? 0, OPS_HOST: "127.0.0.1" };
    await expect(startOpsServer(taken, createMetricsRegistry("other"), {}, log)).rejects.toMatchObject({
      name: "StartupError",
      message: expect.stringContaining(`cannot serve operations on 127.0.0.1:${taken.OPS_PORT}`),
    });
  });
});
