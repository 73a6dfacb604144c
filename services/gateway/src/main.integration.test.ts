/**
 * The gateway as a process (`dist/main.js`; run `pnpm build` first), with the files its
 * `credentials init` makes: TLS on the public port when a certificate is given, and a stop on
 * SIGTERM that answers the requests in flight before the process exits 0.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { EVENTS_QUERY_SUBJECT, READER_QUEUE } from "@vigil/shared";
import {
  type GatewayFiles,
  type NatsServer,
  prepareGatewayFiles,
  type RunningGateway,
  runToExit,
  serviceEnv,
  startGateway,
  startNatsServer,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

let dir: string;
let nats: NatsServer;
let files: GatewayFiles;
const started: RunningGateway[] = [];

const gatewayWith = async (extra: Record<string, string> = {}) => {
  const gateway = await startGateway(serviceEnv(nats.url, undefined, { ...files.env, ...extra }));
  started.push(gateway);
  return gateway;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-gateway-main-"));
  files = await prepareGatewayFiles(join(dir, "auth"), join(dir, "first-start"));
  nats = await startNatsServer();
});

afterAll(async () => {
  await Promise.allSettled(started.map((gateway) => gateway.service.process.stop()));
  await nats?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("with GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE", () => {
  it("speaks HTTPS with that certificate, verified against its CA, and sends HSTS", async () => {
    const certs = join(dir, "tls");
    const made = await runToExit("bash", [`${ROOT}deploy/tls/make-certs.sh`, certs, "localhost"], {
      PATH: process.env.PATH ?? "",
    });
    expect(made.code, made.stderr).toBe(0);
    const { port } = await gatewayWith({
      GATEWAY_TLS_CERT_FILE: join(certs, "server.pem"),
      GATEWAY_TLS_KEY_FILE: join(certs, "server-key.pem"),
    });
    const answer = await new Promise<{ status: number | undefined; hsts: string | undefined; body: string }>(
      (resolve, reject) => {
        const request = get(
          {
            host: "127.0.0.1",
            servername: "localhost",
            port,
            path: "/v1/openapi.json",
            ca: readFileSync(join(certs, "ca.pem")),
          },
          (response) => {
            let body = "";
            response.setEncoding("utf8");
            response.on("data", (chunk: string) => {
              body += chunk;
            });
            response.on("end", () =>
              resolve({ status: response.statusCode, hsts: response.headers["strict-transport-security"], body }),
            );
          },
        );
        request.on("error", reject);
      },
    );
    expect(answer.status).toBe(200);
    expect(answer.hsts).toMatch(/max-age=\d+/);
    expect(JSON.parse(answer.body)).toMatchObject({ openapi: expect.stringMatching(/^3\.1/) });
  });
});

describe("stopping on SIGTERM", () => {
  let fakeReader: NatsConnection;

  afterAll(async () => {
    await fakeReader?.close();
  });

  it("answers the request in flight, then exits 0", async () => {
    const { service: gateway, url } = await gatewayWith();
    const signIn = await fetch(`${url}/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: files.secret("admin-password") }),
    });
    const { accessToken } = (await signIn.json()) as { accessToken: string };
    // A reader that holds every query until the test answers it.
    fakeReader = await connect({ servers: nats.url });
    const held: Msg[] = [];
    fakeReader.subscribe(EVENTS_QUERY_SUBJECT, { queue: READER_QUEUE, callback: (_err, msg) => void held.push(msg) });
    await fakeReader.flush();

    const inFlight = fetch(`${url}/v1/events?minCriticality=1`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    await waitFor("the query to reach the reader", () => held.length === 1);
    gateway.process.child.kill("SIGTERM");
    await waitFor("the gateway to begin stopping", () =>
      gateway.process.logs().some((line) => typeof line.msg === "string" && /stopping/i.test(line.msg)),
    );
    held[0]?.respond('{"events":[]}');
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ events: [] });
    expect(await gateway.process.exited()).toBe(0);
  });
});
