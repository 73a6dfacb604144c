import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "@vigil/testing";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createStack,
  execIn,
  HEALTHY_SERVICES,
  influxFromService,
  inspect,
  LONG_RUNNING,
  localImages,
  metric,
  ONE_SHOTS,
  ROOT,
  type Stack,
  sh,
  storedIds,
  waitForLog,
} from "./stack.js";

// `docker compose up` of docker-compose.yml as a user runs it, on the images built here
// (scripts/build-images.sh), with the four service images built from Dockerfile.base.
describe("docker compose up", () => {
  let stack: Stack;
  let idsBeforeDown: string[] = [];
  /** Events a test posted through the gateway: stored beside the daemon's. */
  const postedThroughGateway: string[] = [];

  beforeAll(async () => {
    stack = await createStack({ ...(await localImages()), DAEMON_RATE: "200", CLIENT_REPEAT: "2s" });
    await stack.up();
  });

  afterAll(async () => {
    await stack?.down({ volumes: true });
  });

  it("shows a table of events in the client's logs within 60 s", async () => {
    const logs = await waitForLog(stack, "client", /TIME\s+CRITICALITY\s+SOURCE\s+MESSAGE\n.*daemon/, 60_000);
    expect(logs).toMatch(/^\d{4}-\d\d-\d\dT\S+\s+(6|7|8|9|10)\s+daemon\s+\S/m);
  });

  it("has every long-running service healthy and the one-shots exited 0", async () => {
    for (const service of HEALTHY_SERVICES) {
      const state = (await inspect(await stack.containerId(service))).State;
      expect({ service, health: state.Health?.Status }).toEqual({ service, health: "healthy" });
    }
    expect((await inspect(await stack.containerId("client"))).State.Status).toBe("running");
    for (const service of ONE_SHOTS) {
      const state = (await inspect(await stack.containerId(service))).State;
      expect({ service, status: state.Status, exitCode: state.ExitCode }).toEqual({
        service,
        status: "exited",
        exitCode: 0,
      });
    }
  });

  it("serves the gateway on 127.0.0.1 only, to the producer key and the viewer that gateway-init created", async () => {
    const url = await stack.gatewayUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const posted = await fetch(`${url}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": await stack.firstStartSecret("producer-api-key") },
      body: JSON.stringify({ criticality: 10, timestamp: new Date().toISOString(), eventMessage: "from the host" }),
    });
    expect(posted.status).toBe(202);
    postedThroughGateway.push(((await posted.json()) as { id: string }).id);
    const signIn = await fetch(`${url}/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "viewer", password: await stack.firstStartSecret("viewer-password") }),
    });
    expect(signIn.status).toBe(200);
    const { accessToken } = (await signIn.json()) as { accessToken: string };
    await waitFor("the gateway to show the event", async () => {
      const reply = await fetch(`${url}/v1/events?minCriticality=9&limit=1000`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      return reply.ok && (await reply.text()).includes("from the host");
    });
  });

  it("shows the daemon's events arriving live on the dashboard, opened from the host in Chromium", async () => {
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: ["--no-sandbox"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(await stack.gatewayUrl());
      await page.getByLabel("User").fill("viewer");
      await page.getByLabel("Password").fill(await stack.firstStartSecret("viewer-password"));
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.getByRole("status").getByText("Live", { exact: true }).waitFor({ timeout: 30_000 });
      // The daemon publishes 200 events a second here: the list fills from the live tail alone.
      await page
        .getByRole("list", { name: "Live events, newest first" })
        .getByText("daemon:", { exact: false })
        .first()
        .waitFor({ timeout: 30_000 });
    } finally {
      await browser.close();
    }
  });

  it("runs every service as uid 1000 on a read-only root filesystem with no capabilities", async () => {
    for (const service of LONG_RUNNING) {
      const info = await inspect(await stack.containerId(service));
      expect({ service, user: info.Config.User, readOnly: info.HostConfig.ReadonlyRootfs }).toEqual({
        service,
        user: "1000:1000",
        readOnly: true,
      });
      expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
      const container = stack.container(service);
      expect((await execIn(container, ["id", "-u"])).trim()).toBe("1000");
      // Every capability set of the service's own process (pid 1 is the init that compose adds).
      const status = await execIn(container, ["sh", "-c", "cat /proc/self/status"]);
      for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
        expect({ service, set, value: new RegExp(`^${set}:\\s*(\\w+)$`, "m").exec(status)?.[1] }).toEqual({
          service,
          set,
          value: "0000000000000000",
        });
      }
      const write = await container.exec(["sh", "-c", "echo x > /vigil-write-probe"]);
      expect(write.exitCode).not.toBe(0);
      expect(write.output).toMatch(/Read-only file system/);
    }
  });

  it("keeps every secret out of the compose file, the images and the environment", async () => {
    const read = (service: string, file: string) => execIn(stack.container(service), ["cat", file]);
    const secrets = [
      ...(await Promise.all(
        ["daemon", "writer", "reader", "client"].map((service) => read(service, "/run/vigil/secrets/nats-password")),
      )),
      await read("writer", "/run/vigil/influx/gate-token"),
      await read("influx-gate", "/run/vigil/influx/influx-token"),
      await read("reader", "/run/vigil/influx/influx-token"),
      ...(
        await sh("docker", [
          "run",
          "--rm",
          "--pull=never",
          "--network=none",
          "--user=1000:1000",
          `--volume=${stack.project}_influxdb-secrets:/secrets:ro`,
          stack.env.NODE_IMAGE as string,
          "sh",
          "-c",
          "cat /secrets/admin-password; echo; cat /secrets/admin-token",
        ])
      ).split("\n"),
    ]
      .map((value) => value.trim())
      .filter((value) => value !== "");
    expect(secrets.length).toBe(9);
    for (const value of secrets) expect(value.length).toBeGreaterThanOrEqual(20);

    const places: [string, string][] = [
      ["docker-compose.yml", await readFile(`${ROOT}/docker-compose.yml`, "utf8")],
      ["docker compose config", await stack.compose("config")],
    ];
    const services = [...LONG_RUNNING, ...ONE_SHOTS];
    for (const service of services) {
      const id = await stack.containerId(service);
      places.push([`docker inspect ${service}`, await sh("docker", ["inspect", id])]);
    }
    for (const service of LONG_RUNNING) {
      places.push([`env of ${service}`, await execIn(stack.container(service), ["env"])]);
    }
    const images = new Set<string>();
    for (const service of services) images.add((await inspect(await stack.containerId(service))).Config.Image);
    for (const image of images) {
      places.push([`docker history ${image}`, await sh("docker", ["history", "--no-trunc", image])]);
      places.push([`docker image inspect ${image}`, await sh("docker", ["image", "inspect", image])]);
    }
    for (const [where, text] of places) {
      for (const value of secrets) expect({ where, leaks: text.includes(value) }).toEqual({ where, leaks: false });
    }
    // The layers themselves: every file of every image, searched byte for byte.
    const patterns = join(await mkdtemp(join(tmpdir(), "vigil-secrets-")), "patterns");
    await writeFile(patterns, `${secrets.join("\n")}\n`, { mode: 0o600 });
    for (const image of images) {
      const found = await sh("sh", ["-c", 'docker save "$1" | grep -a -c -F -f "$2" || true', "save", image, patterns]);
      expect({ image, matches: found.trim() }).toEqual({ image, matches: "0" });
    }
    await rm(patterns);
  });

  it("gives the writer a gate token that writes and cannot read, the gate a write token that cannot read, and the reader one that reads and cannot write", async () => {
    const writer = stack.container("writer");
    const gate = stack.container("influx-gate");
    const reader = stack.container("reader");
    const probe = `vigil_token_probe value=1i ${Date.now()}000000`;

    // The writer's INFLUX_URL is the gate, and its token the gate's.
    const writerWrites = await influxFromService(writer, { path: "/write", body: probe });
    expect(writerWrites.status).toBe(204);
    const writerReads = await influxFromService(writer, { path: "/query", query: 'SELECT * FROM "security_events"' });
    expect(writerReads.status).toBe(403);
    expect(writerReads.body).toMatch(/"code":"FORBIDDEN"/);
    const gateReads = await influxFromService(gate, { path: "/query", query: 'SELECT * FROM "security_events"' });
    // InfluxDB 2.x answers 200 with the error in the body: a token that may not read a bucket
    // does not see it at all.
    expect(gateReads.body).toMatch(/"error":"[^"]*(database not found|insufficient permissions)/);
    expect(gateReads.body).not.toMatch(/"series"/);

    const readerReads = await influxFromService(reader, {
      path: "/query",
      query: 'SELECT count("value") FROM "vigil_token_probe"',
    });
    expect(readerReads.status).toBe(200);
    expect(readerReads.body).toMatch(/"values":\[\["[^"]+",1\]\]/);
    const readerWrites = await influxFromService(reader, {
      path: "/write",
      body: `vigil_token_probe value=2i ${Date.now()}000000`,
    });
    expect(readerWrites.status).toBeGreaterThanOrEqual(400);
    const after = await influxFromService(reader, {
      path: "/query",
      query: 'SELECT count("value") FROM "vigil_token_probe"',
    });
    expect(after.body).toMatch(/"values":\[\["[^"]+",1\]\]/);
  });

  it("stores the events through the gate, while InfluxDB is out of the writer's reach and the gate refuses it a delete", async () => {
    const writer = stack.container("writer");
    expect(await metric(stack.container("influx-gate"), "vigil_influx_gate_request_bytes_total")).toBeGreaterThan(0);
    const before = (await storedIds(stack.container("reader"))).length;
    expect(before).toBeGreaterThan(0);
    // No name, no route: InfluxDB is on `storage`, which the writer is not on.
    const direct = await execIn(writer, [
      "node",
      "-e",
      'fetch("http://influxdb:8086/ping", { signal: AbortSignal.timeout(5000) }).then((r) => console.log("answered " + r.status), (e) => console.log("unreachable " + (e.cause?.code ?? e.name)))',
    ]);
    expect(direct.trim()).toMatch(/^unreachable (ENOTFOUND|EAI_AGAIN|TimeoutError)$/);
    const deleted = await influxFromService(writer, {
      path: "/api/v2/delete",
      body: JSON.stringify({ start: "1970-01-01T00:00:00Z", stop: "2100-01-01T00:00:00Z" }),
    });
    expect(deleted.status).toBe(403);
    expect((await storedIds(stack.container("reader"))).length).toBeGreaterThanOrEqual(before);
  });

  it("loses and duplicates nothing when the writer is stopped under load and started again", async () => {
    const daemon = stack.container("daemon");
    await stack.compose("stop", "writer");
    const confirmedAtStop = await metric(daemon, "vigil_daemon_publish_confirmed_total");
    // The backlog grows while no writer runs.
    await waitFor(
      "the daemon to have 1,000 more events confirmed",
      async () => (await metric(daemon, "vigil_daemon_publish_confirmed_total")) >= confirmedAtStop + 1_000,
      60_000,
      500,
    );
    await stack.compose("start", "writer");
    await stack.compose("stop", "daemon");
    const logs = await stack.compose("logs", "--no-color", "--no-log-prefix", "daemon");
    const stopped = logs
      .split("\n")
      .filter((line) => line.includes('"stopped publishing"'))
      .map((line) => JSON.parse(line) as { confirmed: number; inFlight: number })
      .at(-1);
    expect(stopped?.inFlight).toBe(0);
    const confirmed = stopped?.confirmed ?? 0;
    expect(confirmed).toBeGreaterThan(confirmedAtStop + 1_000);

    const reader = stack.container("reader");
    const expected = confirmed + postedThroughGateway.length;
    let ids: string[] = [];
    await waitFor(
      `all ${confirmed} confirmed events (and ${postedThroughGateway.length} from the gateway) to be stored`,
      async () => {
        ids = await storedIds(reader);
        return ids.length >= expected;
      },
      120_000,
      1_000,
    );
    expect(ids.length).toBe(expected);
    expect(new Set(ids).size).toBe(expected);
    for (const id of postedThroughGateway) expect(ids).toContain(id);
    idsBeforeDown = ids;
  });

  it("keeps the events across down and up, and removes them with down -v", async () => {
    expect(idsBeforeDown.length).toBeGreaterThan(0);
    await stack.down({ volumes: false });
    await stack.up();
    const kept = new Set(await storedIds(stack.container("reader")));
    expect(idsBeforeDown.filter((id) => !kept.has(id))).toEqual([]);

    await stack.down({ volumes: true });
    await stack.up();
    const afterReset = new Set(await storedIds(stack.container("reader")));
    expect(idsBeforeDown.filter((id) => afterReset.has(id))).toEqual([]);
  });
});

// The same stack with deploy/compose.tls.yml: NATS over TLS with certificates from
// deploy/tls/make-certs.sh, verified by every service.
describe("docker compose up with the TLS override", () => {
  let stack: Stack;

  beforeAll(async () => {
    const certs = await sh("mktemp", ["-d"]).then((dir) => dir.trim());
    await sh("bash", ["deploy/tls/make-certs.sh", certs, "nats"]);
    // nats runs as uid 1000 and the key is readable by its owner only.
    await sh("chown", ["1000:1000", `${certs}/server-key.pem`]);
    stack = await createStack({ ...(await localImages()), NATS_TLS_DIR: certs, CLIENT_REPEAT: "2s" }, [
      "deploy/compose.tls.yml",
    ]);
    await stack.up();
  });

  afterAll(async () => {
    await stack?.down({ volumes: true });
  });

  it("runs healthy over TLS and shows the client's table", async () => {
    for (const service of HEALTHY_SERVICES) {
      const state = (await inspect(await stack.containerId(service))).State;
      expect({ service, health: state.Health?.Status }).toEqual({ service, health: "healthy" });
    }
    expect((await inspect(await stack.containerId("writer"))).Config.Env).toContain("NATS_URL=tls://nats:4222");
    await waitForLog(stack, "client", /TIME\s+CRITICALITY\s+SOURCE\s+MESSAGE\n.*daemon/, 60_000);
  });
});
