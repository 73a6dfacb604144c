import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { createServer, type Socket } from "node:net";
import { createInfluxClient, type InfluxClient, InfluxRejectedError, InfluxUnavailableError } from "@vigil/influx";
import {
  createLogSink,
  type Influxd,
  type RunningService,
  startInfluxd,
  startInfluxGateWith,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInfluxGate } from "./gate.js";

// The gate as deployed: its built `dist/main.js` in its own process (run `pnpm build` first), in
// front of a real InfluxDB 2.x with a write-only token, spoken to by the writer's own client
// (@vigil/influx) with the gate's credential, as the writer does in compose.

const DATABASE = "vigil";
const OTHER = "other_bucket";
const GATE_TOKEN = randomBytes(24).toString("hex");
/** Small, so that a body over it is quick to send. */
const MAX_BODY = 64 * 1024;
const POINTS = [
  'security_events,criticality=7 eventMessage="first",timestamp="2024-01-01T00:00:00Z",seq=1i 1704067200000000001',
  'security_events,criticality=8 eventMessage="second",timestamp="2024-01-01T00:00:01Z",seq=2i 1704067201000000002',
].join("\n");

let influx: Influxd;
let gate: RunningService;
let gateUrl: string;
let admin: InfluxClient;
/** The writer's client, pointed at the gate with the gate's credential. */
let writer: InfluxClient;
let influxToken: string;

const clientFor = (token: string | undefined, database = DATABASE): InfluxClient =>
  createInfluxClient({
    url: gateUrl,
    database,
    auth: token === undefined ? { kind: "none" } : { kind: "token", token },
    timeoutMs: 10_000,
  });

const stored = async (measurement = "security_events"): Promise<string[]> => {
  const series = await admin.query(`SELECT "eventMessage" FROM "${measurement}"`);
  return (series[0]?.values ?? []).map((row) => String(row[1])).sort();
};

/** A request to the gate with the writer's credential (or `token`), answered as status, headers and JSON. */
const ask = async (path: string, init: { method?: string; body?: string; token?: string | null } = {}) => {
  const token = init.token === undefined ? GATE_TOKEN : init.token;
  const response = await fetch(`${gateUrl}${path}`, {
    method: init.method ?? "POST",
    headers: token === null ? {} : { authorization: `Token ${token}` },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
};

const refusedLines = () => gate.process.logs().filter((line) => line.msg === "refused a request");

const rejection = async (attempt: Promise<unknown>): Promise<unknown> =>
  attempt.then(
    () => undefined,
    (err: unknown) => err,
  );

beforeAll(async () => {
  influx = await startInfluxd(DATABASE, { version: 2 });
  await influx.createDatabase(OTHER);
  admin = influx.client("admin");
  const auth = influx.config("writer").auth;
  if (auth.kind !== "token") throw new Error("expected a 2.x token");
  influxToken = auth.token;
  ({ service: gate, url: gateUrl } = await startInfluxGateWith({
    PATH: process.env.PATH ?? "",
    LOG_LEVEL: "info",
    OPS_HOST: "127.0.0.1",
    INFLUX_URL: influx.url,
    INFLUX_DATABASE: DATABASE,
    INFLUX_TOKEN: influxToken,
    INFLUX_GATE_TOKEN: GATE_TOKEN,
    INFLUX_GATE_MAX_BODY_BYTES: String(MAX_BODY),
    INFLUX_GATE_MAX_CONCURRENT: "1",
    INFLUX_GATE_HEALTH_INTERVAL: "200ms",
  }));
  writer = clientFor(GATE_TOKEN);
});

afterAll(async () => {
  await gate?.process.stop();
  await influx?.dispose();
});

describe("the writer's client through the gate", () => {
  it("writes, and the points are stored", async () => {
    await writer.write(POINTS);
    expect(await stored()).toEqual(["first", "second"]);
    expect(await gate.metric("vigil_influx_gate_request_bytes_total")).toBeGreaterThanOrEqual(POINTS.length);
  });

  it("pings InfluxDB, and reads its version", async () => {
    expect(await writer.ping()).toMatch(/^v?2\.7\.12/);
  });

  it("gets InfluxDB's own refusal of a bad point unchanged: the status and the body, with the good points stored", async () => {
    const lines = [
      'security_events,criticality=1 eventMessage="kept",timestamp="2024-01-02T00:00:00Z",seq=3i 1704153600000000003',
      'security_events,criticality=1 eventMessage=5i,timestamp="2024-01-02T00:00:01Z",seq=4i 1704153601000000004',
    ].join("\n");
    const direct = await fetch(`${influx.url}/write?db=${DATABASE}&precision=ns`, {
      method: "POST",
      headers: { authorization: `Token ${influxToken}` },
      body: lines,
    });
    const directBody = await direct.text();
    const through = await ask(`/write?db=${DATABASE}&precision=ns`, { body: lines });
    // InfluxDB 2.7 answers a write with a point of another field type 422, "partial write".
    expect(direct.status).toBe(422);
    expect(directBody).toMatch(/partial write/);
    expect({ status: through.status, body: through.text }).toEqual({ status: direct.status, body: directBody });
    expect(through.headers.get("content-type")).toBe(direct.headers.get("content-type"));
    expect(through.headers.get("x-influxdb-error")).toBe(direct.headers.get("x-influxdb-error"));
    // The writer's client sees the refusal as such: it bisects and dead-letters, not retries.
    const err = await rejection(writer.write(lines));
    expect(err).toBeInstanceOf(InfluxRejectedError);
    expect((err as InfluxRejectedError).status).toBe(422);
    expect(await stored()).toContain("kept");
  });
});

describe("what the writer's credential cannot do through the gate", () => {
  const deleteBody = JSON.stringify({ start: "2024-01-01T00:00:00Z", stop: "2024-01-03T00:00:00Z" });

  it.each([
    ["2.x's delete", `/api/v2/delete?org=vigil&bucket=${DATABASE}`, deleteBody],
    ["2.x's query", "/api/v2/query?org=vigil", `from(bucket: "${DATABASE}") |> range(start: 0)`],
    ["2.x's write (the gate passes the v1 write only)", `/api/v2/write?org=vigil&bucket=${DATABASE}`, "m v=1i"],
    ["2.x's buckets", "/api/v2/buckets", JSON.stringify({ name: "x", orgID: "x" })],
    ["v1 DROP SERIES", `/query?db=${DATABASE}&q=${encodeURIComponent('DROP SERIES FROM "security_events"')}`, ""],
    ["v1 DELETE", `/query?db=${DATABASE}&q=${encodeURIComponent('DELETE FROM "security_events"')}`, ""],
    ["v1 DROP MEASUREMENT", `/query?db=${DATABASE}&q=${encodeURIComponent('DROP MEASUREMENT "security_events"')}`, ""],
    ["v1 SELECT", `/query?db=${DATABASE}&q=${encodeURIComponent('SELECT * FROM "security_events"')}`, ""],
    ["a write to another bucket", `/write?db=${OTHER}&precision=ns`, "m v=1i"],
    [
      "a write with a statement in its query",
      `/write?db=${DATABASE}&q=${encodeURIComponent("DROP DATABASE vigil")}`,
      "m v=1i",
    ],
  ])("%s is refused with 403 and a JSON error, and nothing is deleted", async (_what, path, body) => {
    const before = await stored();
    const answer = await ask(path, { body });
    expect(answer.status).toBe(403);
    expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
    expect(JSON.parse(answer.text)).toEqual({ error: { code: "FORBIDDEN", message: expect.any(String) } });
    expect(await stored()).toEqual(before);
    expect(before).toEqual(expect.arrayContaining(["first", "second"]));
  });

  it("cannot delete through the writer's client pointed at another bucket, nor at /query", async () => {
    const err = await rejection(clientFor(GATE_TOKEN, OTHER).write("m v=1i"));
    // 403 is what the writer's client retries (a deployment fault), never dead-letters.
    expect(err).toBeInstanceOf(InfluxUnavailableError);
    expect((err as InfluxUnavailableError).status).toBe(403);
    expect(await rejection(writer.query('DELETE FROM "security_events"'))).toMatchObject({ status: 403 });
    expect((await admin.query(`SELECT count("v") FROM "m"`)).length).toBe(0);
    expect(await stored()).toEqual(expect.arrayContaining(["first", "second"]));
  });

  it("answers other paths 404 and other methods 405", async () => {
    expect((await ask("/", { method: "GET" })).status).toBe(404);
    const get = await ask(`/write?db=${DATABASE}`, { method: "GET" });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await ask("/ping", { method: "DELETE" })).status).toBe(405);
  });

  it.each([
    ["no credential", null],
    // The gate's token with its last character changed (to another one, whatever it was).
    ["a wrong credential", `${GATE_TOKEN.slice(0, -1)}${GATE_TOKEN.endsWith("0") ? "1" : "0"}`],
    ["InfluxDB's own write token", "influx"],
  ])("refuses %s with 401, and nothing is written", async (_what, token) => {
    const line = `unauthenticated v=1i ${Date.now()}000000`;
    const answer = await ask(`/write?db=${DATABASE}&precision=ns`, {
      body: line,
      token: token === "influx" ? influxToken : token,
    });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: "UNAUTHENTICATED" } });
    expect((await ask("/ping", { method: "GET", token: token === "influx" ? influxToken : token })).status).toBe(401);
    expect((await admin.query('SELECT count("v") FROM "unauthenticated"')).length).toBe(0);
  });

  it("logs each refusal once, with neither credential in any line", async () => {
    const refusals = () => gate.metric("vigil_influx_gate_refusals_total");
    // The lines of earlier refusals may still be on their way from the gate's stdout.
    await waitFor("a line for every earlier refusal", async () => refusedLines().length === (await refusals()));
    const before = refusedLines().length;
    await ask(`/api/v2/delete?org=vigil&bucket=${DATABASE}`, { body: deleteBody });
    await waitFor("the refusal's log line", () => refusedLines().length > before);
    const line = refusedLines().at(-1);
    expect(line).toMatchObject({
      level: "warn",
      method: "POST",
      path: "/api/v2/delete",
      status: 403,
      code: "FORBIDDEN",
    });
    expect(refusedLines().length).toBe(before + 1);
    expect(await refusals()).toBe(before + 1);
    const output = gate.process.output();
    expect(output).not.toContain(GATE_TOKEN);
    expect(output).not.toContain(influxToken);
    expect(await gate.metric("vigil_influx_gate_refusals_total")).toBeGreaterThan(0);
  });
});

describe("the gate's limits", () => {
  it("answers a body over the limit 413 before InfluxDB sees any of it", async () => {
    const line = (i: number) => `oversize,criticality=1 v=${i}i 1704067200${String(i).padStart(9, "0")}`;
    const lines = Array.from({ length: 4_000 }, (_, i) => line(i)).join("\n");
    expect(Buffer.byteLength(lines)).toBeGreaterThan(MAX_BODY);
    const err = await rejection(writer.write(lines));
    // A refusal the writer acts on by halving the batch, as for InfluxDB's own 413.
    expect(err).toBeInstanceOf(InfluxRejectedError);
    expect((err as InfluxRejectedError).status).toBe(413);
    expect((await admin.query('SELECT count("v") FROM "oversize"')).length).toBe(0);
    // Half of it fits, and is stored whole.
    await writer.write(Array.from({ length: 1_000 }, (_, i) => line(i)).join("\n"));
    const counted = await admin.query('SELECT count("v") FROM "oversize"');
    expect(counted[0]?.values[0]?.[1]).toBe(1_000);
  });

  it("answers a body of undeclared length 411", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${gateUrl}/write?db=${DATABASE}`, {
        method: "POST",
        headers: { authorization: `Token ${GATE_TOKEN}`, "transfer-encoding": "chunked" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end("chunked v=1i");
    });
    expect(status).toBe(411);
    expect((await admin.query('SELECT count("v") FROM "chunked"')).length).toBe(0);
  });

  it("answers 429 with Retry-After while INFLUX_GATE_MAX_CONCURRENT writes are in flight", async () => {
    const body = `held v=1i ${Date.now()}000000`;
    // A write whose body is held back half-sent: it stays in flight until the rest is sent.
    const held = request(`${gateUrl}/write?db=${DATABASE}&precision=ns`, {
      method: "POST",
      headers: { authorization: `Token ${GATE_TOKEN}`, "content-length": Buffer.byteLength(body) },
    });
    const answered = new Promise<number>((resolve, reject) => {
      held.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      held.on("error", reject);
    });
    held.write(body.slice(0, 4));
    await waitFor(
      "the held write to be in flight",
      async () => (await gate.metric("vigil_influx_gate_requests_in_flight")) === 1,
    );
    const second = await ask(`/write?db=${DATABASE}&precision=ns`, { body: "second v=1i" });
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("2");
    held.end(body.slice(4));
    expect(await answered).toBe(204);
    expect((await admin.query('SELECT count("v") FROM "held"'))[0]?.values[0]?.[1]).toBe(1);
  });

  it("answers 503 with Retry-After while InfluxDB is down, which the writer retries, and says so once", async () => {
    await influx.stop();
    const answer = await ask(`/write?db=${DATABASE}&precision=ns`, { body: `outage v=1i ${Date.now()}000000` });
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("2");
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: "UNAVAILABLE" } });
    const err = await rejection(writer.write(`outage v=2i ${Date.now()}000000`));
    expect(err).toBeInstanceOf(InfluxUnavailableError);
    expect((err as InfluxUnavailableError).status).toBe(503);
    await waitFor("the gate to report not ready", async () => (await fetch(`${gate.opsUrl}/readyz`)).status === 503);

    await influx.start();
    await waitFor("the gate to report ready again", async () => (await fetch(`${gate.opsUrl}/readyz`)).ok);
    await writer.write(`outage v=3i ${Date.now()}000000`);
    const counted = await admin.query('SELECT count("v") FROM "outage"');
    expect(counted[0]?.values[0]?.[1]).toBe(1);
    const messages = gate.process.logs().map((line) => line.msg);
    expect(messages.filter((msg) => msg === "InfluxDB does not answer; writes get 503 until it does").length).toBe(1);
    expect(messages.filter((msg) => msg === "InfluxDB answers again").length).toBe(1);
  });
});

// A fault no stopped InfluxDB shows: connections accepted and never answered (a hung server, a
// half-open network path). The gate, in-process here, must answer by its own deadline.
describe("an InfluxDB that accepts connections and never answers", () => {
  it("gets 503 with Retry-After once INFLUX_GATE_REQUEST_TIMEOUT has passed, and InfluxDB counts as unreachable", async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const sink = createLogSink();
    const recorded: boolean[] = [];
    const inProcess = createInfluxGate(
      { log: sink.log, storage: { record: (reachable) => void recorded.push(reachable) } },
      {
        url: `http://127.0.0.1:${silentPort}`,
        database: DATABASE,
        auth: { kind: "token", token: "t" },
        timeoutMs: 500,
      },
      {
        host: "127.0.0.1",
        port: 0,
        token: GATE_TOKEN,
        rules: { database: DATABASE },
        maxBodyBytes: MAX_BODY,
        requestTimeoutMs: 500,
        maxConcurrent: 4,
        upstreamConnections: 4,
        healthIntervalMs: 10_000,
      },
    );
    const port = await inProcess.listen();
    try {
      const response = await fetch(`http://127.0.0.1:${port}/write?db=${DATABASE}&precision=ns`, {
        method: "POST",
        headers: { authorization: `Token ${GATE_TOKEN}` },
        body: "hung v=1i",
      });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("2");
      expect(await response.json()).toEqual({
        error: { code: "UNAVAILABLE", message: "InfluxDB did not answer within 500 ms" },
      });
      expect(held.length).toBe(1);
      expect(recorded).toEqual([false]);
      expect(sink.withMessage("InfluxDB did not answer in time")).toHaveLength(1);
      expect(inProcess.inFlight()).toBe(0);
    } finally {
      for (const socket of held) socket.destroy();
      await inProcess.close();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
