import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { READER_SERVICE } from "@vigil/shared";
import {
  type GatewayFiles,
  type Influxd,
  prepareGatewayFiles,
  type RunningService,
  runToExit,
  serviceEnv,
  startGateway,
  startInfluxd,
  startInfluxGateWith,
  startService,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ComposeNats,
  composeNatsLogin,
  generateSecrets,
  NATS_SERVICES,
  type NatsService,
  startComposeNats,
} from "./compose-nats.js";
import { ROOT, readCompose } from "./deployment-files.js";

// Runs what docker-compose.yml wires together, without a Docker engine: deploy/init/secrets.sh
// generates the passwords into per-service folders, deploy/nats/entrypoint.sh starts the real
// nats-server with deploy/nats/nats.conf and those passwords, and the built services log in with
// the NATS_USER and NATS_INBOX_PREFIX of docker-compose.yml and NATS_PASSWORD_FILE, as in their
// containers. The services' real code paths then prove that each user's permissions are enough;
// test/security/nats-permissions.integration.test.ts proves, against the same server setup, that
// they are no more. The TLS mode (deploy/compose.tls.yml) runs the reader and the client over TLS.
// The writer reaches InfluxDB only through the built influx-gate, with the gate token secrets.sh
// generated, as in compose. InfluxDB is the Debian 1.x with its writer and reader users (the gate
// holds the writer's): the 2.x image, its tokens and its init script need Docker (the container
// test, test/containers, covers those).

const run = promisify(execFile);

let dir: string;
let secrets: string;
let nats: ComposeNats;
let influx: Influxd;
const running: RunningService[] = [];
/** The influx-gate, and its URL (it listens on a port of its own choosing). */
let gate: RunningService;
let gateUrl: string;

/** A file of the writer-gate-token volume, under the name docker-compose.yml gives the gate. */
const gateTokenFile = () => {
  const file = String(readCompose("docker-compose.yml").services["influx-gate"]?.environment?.INFLUX_GATE_TOKEN_FILE);
  return join(secrets, "writer-gate-token", file.split("/").at(-1) as string);
};

const password = (service: NatsService) => readFileSync(nats.passwordFile(service), "utf8");

/** How a service reaches the streams, as docker-compose.yml sets it (`$$` is compose's `$`). */
const streamsAccessEnv = (service: NatsService): Record<string, string> => {
  const environment = readCompose("docker-compose.yml").services[service]?.environment ?? {};
  const access: Record<string, string> = {};
  for (const name of ["NATS_STREAMS_API_PREFIX", "NATS_TOPOLOGY"]) {
    const value = environment[name];
    if (typeof value === "string") access[name] = value.replaceAll("$$", "$");
  }
  return access;
};

/**
 * The variables `service` runs with: its NATS login and streams access as docker-compose.yml sets
 * them, the server at `url`, and the writer's or the reader's InfluxDB user.
 */
const composeEnv = (service: NatsService, url: string, extra: Record<string, string> = {}) => {
  const { user, inboxPrefix } = composeNatsLogin(service);
  const storage = service === "reader" ? influx.config(service) : undefined;
  // As in compose: the writer's InfluxDB is the gate, and its token the gate's.
  const throughGate =
    service === "writer" ? { INFLUX_URL: gateUrl, INFLUX_DATABASE: "vigil", INFLUX_TOKEN_FILE: gateTokenFile() } : {};
  return serviceEnv(url, storage, {
    NATS_USER: user,
    NATS_INBOX_PREFIX: inboxPrefix,
    NATS_PASSWORD_FILE: nats.passwordFile(service),
    ...throughGate,
    ...streamsAccessEnv(service),
    ...extra,
  });
};

/** The gateway's public URL (it listens on a port of its own choosing). */
let gatewayUrl: string;
/** The files `gateway-init` makes, and the first users' secrets. */
let gatewayFiles: GatewayFiles;

const jetstreamStreams = async (): Promise<Map<string, number>> => {
  const jsz = (await (await fetch(`${nats.monitorUrl}/jsz?accounts=true&streams=true`)).json()) as {
    account_details?: { stream_detail?: { name: string; state: { messages: number } }[] }[];
  };
  const streams = new Map<string, number>();
  for (const account of jsz.account_details ?? []) {
    for (const stream of account.stream_detail ?? []) streams.set(stream.name, stream.state.messages);
  }
  return streams;
};

/** Runs the built client once with `env` and returns what it printed. */
const askForEvents = async (env: Record<string, string>): Promise<string> => {
  const { stdout } = await run(
    process.execPath,
    [`${ROOT}services/client/dist/main.js`, "--json", "--every", "0", "--min-criticality", "-1", "--limit", "5"],
    { env },
  );
  return stdout;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-compose-wiring-"));
  secrets = join(dir, "vigil");
  const generated = generateSecrets(secrets);
  if (generated.status !== 0) throw new Error(`deploy/init/secrets.sh failed: ${generated.stderr}`);
  nats = await startComposeNats({ secrets, storeDir: join(dir, "jetstream") });

  influx = await startInfluxd("vigil");
  // The `nats-setup` one-shot, with the set-up's user: the topology the others only check.
  const setup = await runToExit(
    process.execPath,
    [`${ROOT}services/writer/dist/setup/main.js`],
    composeEnv("setup", nats.url),
  );
  if (setup.code !== 0) throw new Error(`the set-up failed: ${setup.stdout}${setup.stderr}`);
  // As in its container: a NATS user that may only publish, so it leaves the stream to the writer.
  const ensureStream = String(readCompose("docker-compose.yml").services.daemon?.environment?.DAEMON_ENSURE_STREAM);
  running.push(
    await startService(
      "daemon",
      composeEnv("daemon", nats.url, { DAEMON_RATE: "20", DAEMON_ENSURE_STREAM: ensureStream }),
    ),
  );
  // The influx-gate, holding the writer's InfluxDB user; the writer gets only the gate's token.
  ({ service: gate, url: gateUrl } = await startInfluxGateWith({
    ...serviceEnv(nats.url, influx.config("writer"), {}),
    INFLUX_GATE_TOKEN_FILE: gateTokenFile(),
  }));
  running.push(gate);
  running.push(await startService("writer", composeEnv("writer", nats.url)));
  running.push(await startService("reader", composeEnv("reader", nats.url)));
  // The `gateway-init` one-shot, then the gateway with the files it made.
  gatewayFiles = await prepareGatewayFiles(join(secrets, "gateway-auth"), join(secrets, "gateway-first-start"));
  const gateway = await startGateway(composeEnv("gateway", nats.url, { ...gatewayFiles.env }));
  running.push(gateway.service);
  gatewayUrl = gateway.url;
});

afterAll(async () => {
  await Promise.allSettled(running.map((service) => service.process.stop()));
  await nats?.stop();
  await influx?.dispose();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("deploy/init/secrets.sh", () => {
  it("gives each service its own 40-character password that nats-server reads as a string", () => {
    const values = NATS_SERVICES.map(password);
    for (const value of values) expect(value).toMatch(/^[A-Za-z][A-Za-z0-9]{39}$/);
    expect(new Set(values).size).toBe(values.length);
    expect(readFileSync(join(secrets, "influxdb/admin-password"), "utf8")).toMatch(/^[A-Za-z][A-Za-z0-9]{39}$/);
  });

  it("gives the writer a gate token of its own, which is no NATS password", () => {
    const token = readFileSync(gateTokenFile(), "utf8");
    expect(token).toMatch(/^[A-Za-z][A-Za-z0-9]{39}$/);
    expect(NATS_SERVICES.map(password)).not.toContain(token);
    expect(statSync(gateTokenFile()).mode & 0o777).toBe(0o400);
  });

  it("leaves the secret files readable by their owner only", () => {
    expect(statSync(nats.passwordFile("writer")).mode & 0o777).toBe(0o400);
    expect(statSync(join(secrets, "writer")).mode & 0o777).toBe(0o700);
  });

  it("keeps the passwords on a second run, so a restart does not lock the services out", () => {
    const before = NATS_SERVICES.map(password);
    const again = generateSecrets(secrets);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("0 created");
    expect(NATS_SERVICES.map(password)).toEqual(before);
  });
});

describe("the services with their own NATS users", () => {
  it("carry events from the daemon through the writer to the reader and the client", async () => {
    let answer = "";
    await waitFor(
      "the client to print stored events",
      async () => {
        answer = await askForEvents(composeEnv("client", nats.url));
        return answer.includes('"eventMessage"');
      },
      60_000,
      200,
    );
    expect(answer).toContain('"criticality"');
  });

  it("dead-letter an event that can never be stored", async () => {
    const nc = await nats.login("daemon");
    const ack = await jetstream(nc).publish("events", "not an event");
    expect(ack.stream).toBe("EVENTS");
    await waitFor("a dead-letter record", async () => ((await jetstreamStreams()).get("DEADLETTERS") ?? 0) > 0);
  });

  it("let the client discover the reader through $SRV", async () => {
    const client = await nats.login("client");
    const replies = await client.requestMany(`$SRV.PING.${READER_SERVICE}`, "", {
      strategy: "count",
      maxMessages: 1,
      maxWait: 10_000,
    });
    const pings: { name?: string }[] = [];
    for await (const reply of replies) pings.push(reply.json());
    expect(pings).toEqual([expect.objectContaining({ name: READER_SERVICE })]);
  });

  it("subscribe only under their own inbox prefix, apart from the reader's endpoints", async () => {
    const connz = (await (await fetch(`${nats.monitorUrl}/connz?subs=1&auth=1&limit=1024`)).json()) as {
      connections: { name?: string; authorized_user?: string; subscriptions_list?: string[] }[];
    };
    const subjects = new Map<string, string[]>();
    for (const connection of connz.connections) {
      if (connection.name?.startsWith("check-")) continue;
      const user = connection.authorized_user ?? "";
      subjects.set(user, [...(subjects.get(user) ?? []), ...(connection.subscriptions_list ?? [])]);
    }
    for (const service of ["daemon", "writer", "reader", "gateway"] as const) {
      const { user, inboxPrefix } = composeNatsLogin(service);
      const own = (subjects.get(user) ?? []).filter(
        (subject) => !/^(\$SRV\.|events\.query$|events\.aggregates$)/.test(subject),
      );
      if (service !== "reader") expect(own.length, `${user} subscribes to its inbox`).toBeGreaterThan(0);
      for (const subject of own) expect(subject.startsWith(`${inboxPrefix}.`), `${user}: ${subject}`).toBe(true);
    }
  });

  it("let the gateway take an event from a producer key, and show it, the figures and the audit trail", async () => {
    const posted = await fetch(`${gatewayUrl}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": gatewayFiles.secret("producer-api-key") },
      body: JSON.stringify({
        criticality: 10,
        timestamp: new Date().toISOString(),
        eventMessage: "through the gateway",
      }),
    });
    expect(posted.status).toBe(202);
    const token = async (username: "admin" | "viewer") => {
      const reply = await fetch(`${gatewayUrl}/v1/auth/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password: gatewayFiles.secret(`${username}-password`) }),
      });
      expect(reply.status).toBe(200);
      return { authorization: `Bearer ${((await reply.json()) as { accessToken: string }).accessToken}` };
    };
    const viewer = await token("viewer");
    await waitFor("the gateway to show the event", async () => {
      const reply = await fetch(`${gatewayUrl}/v1/events?minCriticality=9&limit=100`, { headers: viewer });
      return reply.ok && (await reply.text()).includes("through the gateway");
    });
    const stats = await fetch(`${gatewayUrl}/v1/stats`, { headers: viewer });
    expect(((await stats.json()) as { received: number }).received).toBeGreaterThan(0);
    const audit = await fetch(`${gatewayUrl}/v1/audit?limit=5`, { headers: await token("admin") });
    expect(((await audit.json()) as { records: unknown[] }).records.length).toBeGreaterThan(0);
  });

  it("store the writer's batches through the influx-gate, where the writer's token neither deletes nor queries", async () => {
    const token = readFileSync(gateTokenFile(), "utf8");
    await waitFor(
      "the gate to have passed a write",
      async () => (await gate.metric("vigil_influx_gate_request_bytes_total")) > 0,
    );
    const ask = (path: string, body: string) =>
      fetch(`${gateUrl}${path}`, { method: "POST", headers: { authorization: `Token ${token}` }, body });
    const deleted = await ask(
      "/api/v2/delete?org=vigil&bucket=vigil",
      '{"start":"1970-01-01T00:00:00Z","stop":"2100-01-01T00:00:00Z"}',
    );
    expect(deleted.status).toBe(403);
    const dropped = await ask(`/query?db=vigil&q=${encodeURIComponent('DROP SERIES FROM "security_events"')}`, "");
    expect(dropped.status).toBe(403);
    expect(await askForEvents(composeEnv("client", nats.url))).toContain('"eventMessage"');
  });

  it("never needed a subject outside their permissions", () => {
    expect(nats.violations()).toEqual([]);
  });
});

describe("the TLS mode of deploy/compose.tls.yml", () => {
  const tls = readCompose("deploy/compose.tls.yml");
  let certs: string;
  let tlsNats: ComposeNats;
  let reader: RunningService;

  /** The TLS variables the override gives `service`, with the CA's path in the container moved to `certs`. */
  const tlsEnv = (service: NatsService): Record<string, string> => {
    const environment = tls.services[service]?.environment ?? {};
    return {
      NATS_URL: String(environment.NATS_URL).replace("nats:4222", tlsNats.url.slice("tls://".length)),
      NATS_TLS_CA_FILE: String(environment.NATS_TLS_CA_FILE).replace("/run/vigil/tls", certs),
    };
  };

  beforeAll(async () => {
    certs = join(dir, "tls");
    await run("bash", [`${ROOT}deploy/tls/make-certs.sh`, certs, "nats", "localhost"]);
    const server = tls.services.nats?.environment ?? {};
    tlsNats = await startComposeNats({
      secrets,
      storeDir: join(dir, "jetstream-tls"),
      config: String(server.NATS_CONFIG).split("/").at(-1) as "nats-tls.conf",
      env: { NATS_TLS_CERT_FILE: join(certs, "server.pem"), NATS_TLS_KEY_FILE: join(certs, "server-key.pem") },
      caFile: join(certs, "ca.pem"),
    });
    reader = await startService("reader", composeEnv("reader", tlsNats.url, tlsEnv("reader")));
  });

  afterAll(async () => {
    await reader?.process.stop();
    await tlsNats?.stop();
  });

  it("runs the reader and the client over TLS, verifying the server", async () => {
    const answer = await askForEvents(composeEnv("client", tlsNats.url, tlsEnv("client")));
    expect(answer).toContain('"eventMessage"');
  });

  it("refuses a client that does not start TLS", async () => {
    // nats.js upgrades to TLS by itself when the server asks for it, so speak the protocol by hand.
    const socket = createConnection({ host: "127.0.0.1", port: Number(new URL(tlsNats.url).port) });
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes("\r\n")) socket.write('CONNECT {"verbose":false}\r\nPING\r\n');
    });
    await new Promise((resolve) => socket.once("close", resolve));
    expect(received).toMatch(/^INFO .*"tls_required":true/);
    expect(received).not.toContain("PONG");
  });

  it("is not trusted by a client that lacks the CA", async () => {
    const untrusting = connect({
      servers: tlsNats.url,
      user: "client",
      pass: password("client"),
      reconnect: false,
      timeout: 5_000,
      tls: {},
    });
    await expect(untrusting).rejects.toThrow(/certificate/i);
  });
});
