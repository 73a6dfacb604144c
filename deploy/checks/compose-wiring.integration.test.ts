import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  freePort,
  type Influxd,
  type ManagedProcess,
  type RunningService,
  serviceEnv,
  spawnManaged,
  startInfluxd,
  startService,
  waitFor,
} from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./deployment-files.js";

// Runs what docker-compose.yml wires together, without a Docker engine: deploy/init/secrets.sh
// generates the passwords into per-service folders, deploy/nats/entrypoint.sh starts the real
// nats-server with deploy/nats/nats.conf and those passwords, and the built services log in with
// NATS_USER and NATS_PASSWORD_FILE exactly as in their containers. The services' real code paths
// then prove that each user's permissions are enough, and direct attempts that they are no more.
// InfluxDB is the Debian 1.x with its writer and reader users: the 2.x image, its tokens and its
// init script need Docker (the GitHub workflow's smoke test covers those).

const SERVICES = ["daemon", "writer", "reader", "client"] as const;
const VOLUMES = [...SERVICES, "influxdb", "writer-influx-token", "reader-influx-token", "nats-data"];
const run = promisify(execFile);

let dir: string;
let secrets: string;
let natsUrl: string;
let monitorUrl: string;
let nats: ManagedProcess;
let influx: Influxd;
const running: RunningService[] = [];
const connections: NatsConnection[] = [];

const passwordFile = (service: string) => join(secrets, service, "nats-password");
const password = (service: string) => readFileSync(passwordFile(service), "utf8");

const generateSecrets = () =>
  spawnSync("sh", [`${ROOT}deploy/init/secrets.sh`], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "",
      VIGIL_SECRETS_ROOT: secrets,
      VIGIL_SECRETS_OWNER: `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`,
    },
  });

const login = async (user: string, pass = password(user)): Promise<NatsConnection> => {
  const nc = await connect({ servers: natsUrl, user, pass, reconnect: false, name: `check-${user}` });
  connections.push(nc);
  return nc;
};

/** The violations nats-server logged, as `<user> <Publish|Subscription> <subject>`. */
const violations = (): string[] =>
  [...nats.output().matchAll(/(Publish|Subscription) Violation - User "([^"]+)", Subject "([^"]+)"/g)].map(
    (m) => `${m[2]} ${m[1]} ${m[3]}`,
  );

const jetstreamStreams = async (): Promise<Map<string, number>> => {
  const jsz = (await (await fetch(`${monitorUrl}/jsz?accounts=true&streams=true`)).json()) as {
    account_details?: { stream_detail?: { name: string; state: { messages: number } }[] }[];
  };
  const streams = new Map<string, number>();
  for (const account of jsz.account_details ?? []) {
    for (const stream of account.stream_detail ?? []) streams.set(stream.name, stream.state.messages);
  }
  return streams;
};

const askForEvents = async (): Promise<string> => {
  const { stdout } = await run(
    process.execPath,
    [`${ROOT}services/client/dist/main.js`, "--json", "--every", "0", "--min-criticality", "-1", "--limit", "5"],
    { env: serviceEnv(natsUrl, undefined, { NATS_USER: "client", NATS_PASSWORD_FILE: passwordFile("client") }) },
  );
  return stdout;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vigil-compose-wiring-"));
  secrets = join(dir, "vigil");
  for (const volume of VOLUMES) mkdirSync(join(secrets, volume), { recursive: true });
  const generated = generateSecrets();
  if (generated.status !== 0) throw new Error(`deploy/init/secrets.sh failed: ${generated.stderr}`);

  const port = await freePort();
  const monitorPort = await freePort();
  natsUrl = `nats://127.0.0.1:${port}`;
  monitorUrl = `http://127.0.0.1:${monitorPort}`;
  // The container's command, with the listener and the store moved into this test.
  nats = spawnManaged("sh", [`${ROOT}deploy/nats/entrypoint.sh`, "-a", "127.0.0.1", "-p", String(port)], {
    PATH: process.env.PATH ?? "",
    VIGIL_SECRETS_DIR: secrets,
    NATS_CONFIG: `${ROOT}deploy/nats/nats.conf`,
    NATS_STORE_DIR: join(dir, "jetstream"),
    NATS_MONITOR_LISTEN: `127.0.0.1:${monitorPort}`,
  });
  // The compose healthcheck's probe; a configuration nats-server refuses ends the wait at once.
  let healthy = false;
  await Promise.race([
    waitFor("nats-server /healthz", async () => (await fetch(`${monitorUrl}/healthz`)).ok).then(() => {
      healthy = true;
    }),
    nats.exited().then(() => {
      if (!healthy) throw new Error(`nats-server exited: ${nats.output()}`);
    }),
  ]);

  influx = await startInfluxd("vigil");
  const natsEnv = (service: string) => ({ NATS_USER: service, NATS_PASSWORD_FILE: passwordFile(service) });
  running.push(
    await startService("daemon", serviceEnv(natsUrl, undefined, { ...natsEnv("daemon"), DAEMON_RATE: "20" })),
  );
  running.push(await startService("writer", serviceEnv(natsUrl, influx.config("writer"), natsEnv("writer"))));
  running.push(await startService("reader", serviceEnv(natsUrl, influx.config("reader"), natsEnv("reader"))));
});

afterAll(async () => {
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await Promise.allSettled(running.map((service) => service.process.stop()));
  await nats?.stop();
  await influx?.dispose();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("deploy/init/secrets.sh", () => {
  it("gives each service its own 40-character password that nats-server reads as a string", () => {
    const values = SERVICES.map(password);
    for (const value of values) expect(value).toMatch(/^[A-Za-z][A-Za-z0-9]{39}$/);
    expect(new Set(values).size).toBe(values.length);
    expect(readFileSync(join(secrets, "influxdb/admin-password"), "utf8")).toMatch(/^[A-Za-z][A-Za-z0-9]{39}$/);
  });

  it("leaves the secret files readable by their owner only", () => {
    expect(statSync(passwordFile("writer")).mode & 0o777).toBe(0o400);
    expect(statSync(join(secrets, "writer")).mode & 0o777).toBe(0o700);
  });

  it("keeps the passwords on a second run, so a restart does not lock the services out", () => {
    const before = SERVICES.map(password);
    const again = generateSecrets();
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain("0 created");
    expect(SERVICES.map(password)).toEqual(before);
  });
});

describe("the services with their own NATS users", () => {
  it("carry events from the daemon through the writer to the reader and the client", async () => {
    let answer = "";
    await waitFor(
      "the client to print stored events",
      async () => {
        answer = await askForEvents();
        return answer.includes('"eventMessage"');
      },
      60_000,
      200,
    );
    expect(answer).toContain('"criticality"');
  });

  it("dead-letter an event that can never be stored", async () => {
    const nc = await login("daemon");
    const ack = await jetstream(nc).publish("events", "not an event");
    expect(ack.stream).toBe("EVENTS");
    await waitFor("a dead-letter record", async () => ((await jetstreamStreams()).get("DEADLETTERS") ?? 0) > 0);
  });

  it("never needed a subject outside their permissions", () => {
    expect(violations()).toEqual([]);
  });
});

describe("deploy/nats/nats.conf refuses", () => {
  // nats-server logs every refusal with the user and the subject: the most exact witness.
  const refused = (entry: string) => waitFor(`nats-server to log "${entry}"`, () => violations().includes(entry));
  const deniedPublish = async (user: string, subject: string) => {
    const nc = await login(user);
    nc.publish(subject, "x");
    await nc.flush();
    await refused(`${user} Publish ${subject}`);
  };
  const deniedSubscribe = async (user: string, subject: string, queue?: string) => {
    const nc = await login(user);
    const sub = nc.subscribe(subject, queue === undefined ? {} : { queue });
    expect(await sub.closed).toMatchObject({ name: "PermissionViolationError" });
    await refused(`${user} Subscription ${subject}`);
  };

  it("a wrong password", async () => {
    await expect(login("daemon", "not-the-password")).rejects.toThrow(/authorization/i);
  });

  it.each([
    ["writer", "events"],
    ["reader", "events"],
    ["client", "events"],
    ["daemon", "events.query"],
    ["writer", "events.query"],
    ["client", "$JS.API.INFO"],
    ["daemon", "$JS.API.STREAM.DELETE.EVENTS"],
    ["daemon", "$JS.API.STREAM.PURGE.EVENTS"],
    ["writer", "$JS.API.STREAM.DELETE.EVENTS"],
    ["writer", "$JS.API.CONSUMER.DELETE.EVENTS.writer"],
    ["writer", "$JS.API.STREAM.MSG.GET.DEADLETTERS"],
  ])("%s publishing to %s", deniedPublish);

  it.each([
    ["daemon", "events"],
    ["writer", "events"],
    ["client", "events.query"],
    ["reader", "_INBOX.>"],
    ["client", "$SRV.>"],
  ])("%s subscribing to %s", (user, subject) => deniedSubscribe(user, subject));

  it("the reader listening on events.query outside its queue group", () => deniedSubscribe("reader", "events.query"));

  it("the reader publishing anything but replies", () => deniedPublish("reader", "deadletters.events"));

  it("the daemon managing streams other than EVENTS", async () => {
    const jsm = await jetstreamManager(await login("daemon"));
    await expect(jsm.streams.info("DEADLETTERS")).rejects.toThrow(/Permissions Violation/);
    await refused("daemon Publish $JS.API.STREAM.INFO.DEADLETTERS");
  });
});
