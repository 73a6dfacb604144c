import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInfluxClient, type InfluxAuth, type InfluxClient, type InfluxConfig } from "@vigil/influx";
import { startInfluxd2 } from "./influxd2.js";
import { type ManagedProcess, spawnManaged, startRestartable, WaitAbortedError, waitFor } from "./process.js";

/** Credentials of one role on the test database. */
export type InfluxRole = "admin" | "writer" | "reader";

/** An InfluxDB with authentication on, for one test file, spoken to through the v1 HTTP API. */
export interface Influxd {
  readonly url: string;
  readonly managed: boolean;
  /** Which server: 1.x (users and grants), 2.x (tokens, buckets mapped to databases), or `INFLUX_URL`'s. */
  readonly flavour: "1.x" | "2.x" | "external";
  /** The directory a managed server keeps its files in (its TSM files under it); absent for `INFLUX_URL`'s. */
  readonly dataDir?: string;
  /** Client settings for `role` on `database` (default: the first database). */
  config(role: InfluxRole, database?: string): InfluxConfig;
  /** A client for `role` on `database`. */
  client(role: InfluxRole, database?: string): InfluxClient;
  /** Creates a database the writer may write to and the reader may read. */
  createDatabase(name: string): Promise<void>;
  stop(options?: { kill?: boolean }): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

const secret = () => randomBytes(12).toString("hex");

/** Which influxd to start, and from where. */
export interface InfluxdOptions {
  /**
   * The influxd binary: for 1.x `INFLUXD_BIN`, or `influxd` from PATH; for 2.x `INFLUXD2_BIN`.
   */
  readonly bin?: string;
  /** `2` starts InfluxDB 2.x, `1` InfluxDB 1.x, whatever `VIGIL_INFLUXDB` says (the benchmark picks its own). */
  readonly version?: 1 | 2;
  /**
   * Settings for InfluxDB 2.x in its environment, beside this process's (`INFLUXD_STORAGE_...`, as
   * docker-compose.yml gives them): the benchmark runs influxd as compose does. 1.x takes none.
   */
  readonly env?: Readonly<Record<string, string>>;
}

/** The configuration of an InfluxDB 1.x in `dir`; HTTP on `httpPort` (0: a port it chooses). */
const influxdConfig = (dir: string, httpPort: number) => `reporting-disabled = true
bind-address = "127.0.0.1:0"
[meta]
  dir = "${join(dir, "meta")}"
[data]
  dir = "${join(dir, "data")}"
  wal-dir = "${join(dir, "wal")}"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = true
  log-enabled = false
[logging]
  # info, for the "Listening on HTTP" line that reports the port.
  level = "info"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`;

/** The HTTP port influxd reports once it listens: `msg="Listening on HTTP" ... addr=127.0.0.1:PORT`. */
const reportedHttpPort = (output: string): number | undefined => {
  const match = /msg="Listening on HTTP".* addr=[^\s]*:(\d+)/.exec(output);
  return match === null ? undefined : Number(match[1]);
};

/**
 * Starts the InfluxDB that `options.version`, or else `VIGIL_INFLUXDB`, names: `2` runs InfluxDB 2.x
 * (`INFLUXD2_BIN`, built by scripts/build-servers.sh) through its v1 compatibility API; `1`, or
 * nothing, runs 1.x as below.
 *
 * Starts `influxd` (from PATH, or `INFLUXD_BIN`) with `auth-enabled`, on loopback ports it chooses
 * itself (port 0; the HTTP port is read from its log) and temporary directories, then creates an
 * admin, a `writer` user with WRITE only and a `reader` user with READ only, and the database
 * `database`. When `INFLUX_URL` is set, that server is used instead, with the credentials in the
 * INFLUX_* variables for every role.
 */
export const startInfluxd = async (database = "vigil", options: InfluxdOptions = {}): Promise<Influxd> => {
  const external = process.env.INFLUX_URL;
  const timeoutMs = 30_000;
  if (external !== undefined && external !== "") {
    const auth: InfluxAuth =
      process.env.INFLUX_TOKEN !== undefined
        ? { kind: "token", token: process.env.INFLUX_TOKEN }
        : process.env.INFLUX_USERNAME !== undefined
          ? { kind: "basic", username: process.env.INFLUX_USERNAME, password: process.env.INFLUX_PASSWORD ?? "" }
          : { kind: "none" };
    const config = (_role: InfluxRole, db = database): InfluxConfig => ({
      url: external,
      database: db,
      auth,
      timeoutMs,
    });
    const admin = createInfluxClient(config("admin"));
    return {
      url: external,
      managed: false,
      flavour: "external",
      config,
      client: (role, db) => createInfluxClient(config(role, db)),
      createDatabase: async (name) => void (await admin.query(`CREATE DATABASE "${name}"`)),
      stop: async () => {
        throw new Error("INFLUX_URL points at an external server, which the tests cannot stop");
      },
      start: async () => {},
      dispose: async () => {},
    };
  }

  if ((options.version ?? (process.env.VIGIL_INFLUXDB === "2" ? 2 : 1)) === 2) {
    const bin = options.bin ?? process.env.INFLUXD2_BIN;
    if (bin === undefined || bin === "")
      throw new Error("VIGIL_INFLUXDB=2 needs INFLUXD2_BIN (scripts/build-servers.sh)");
    return startInfluxd2(bin, database, options.env);
  }

  const bin = options.bin ?? process.env.INFLUXD_BIN ?? "influxd";
  const dir = await mkdtemp(join(tmpdir(), "vigil-influxd-"));
  const configFile = join(dir, "influxdb.conf");
  let httpPort = 0;
  const launch = async (): Promise<ManagedProcess> => {
    // The first start lets influxd choose its HTTP port; a restart takes the same one again, since
    // clients keep the URL they were given. (The RPC port is never dialled: always a new one.)
    await writeFile(configFile, influxdConfig(dir, httpPort));
    const proc = spawnManaged(bin, ["-config", configFile]);
    await waitFor(`${bin} to report its HTTP port`, () => {
      if (proc.child.exitCode !== null) throw new WaitAbortedError(`influxd exited: ${proc.output()}`);
      httpPort = reportedHttpPort(proc.output()) ?? 0;
      return httpPort !== 0;
    });
    await waitFor(`influxd on ${url()}`, async () => {
      if (proc.child.exitCode !== null) throw new WaitAbortedError(`influxd exited: ${proc.output()}`);
      const response = await fetch(`${url()}/ping`);
      return response.status === 204;
    });
    return proc;
  };
  const url = () => `http://127.0.0.1:${httpPort}`;
  const lifecycle = await startRestartable(launch, dir);

  const passwords: Record<InfluxRole, string> = { admin: secret(), writer: secret(), reader: secret() };
  const config = (role: InfluxRole, db = database): InfluxConfig => ({
    url: url(),
    database: db,
    auth: { kind: "basic", username: role, password: passwords[role] },
    timeoutMs,
  });
  // With auth on and no users yet, InfluxDB 1.x accepts exactly one statement: creating an admin.
  const bootstrap = createInfluxClient({ ...config("admin"), auth: { kind: "none" } });
  await bootstrap.query(`CREATE USER "admin" WITH PASSWORD '${passwords.admin}' WITH ALL PRIVILEGES`);
  const admin = createInfluxClient(config("admin"));
  await admin.query(`CREATE USER "writer" WITH PASSWORD '${passwords.writer}'`);
  await admin.query(`CREATE USER "reader" WITH PASSWORD '${passwords.reader}'`);
  const createDatabase = async (name: string) => {
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.query(`GRANT WRITE ON "${name}" TO "writer"`);
    await admin.query(`GRANT READ ON "${name}" TO "reader"`);
  };
  await createDatabase(database);

  return {
    url: url(),
    managed: true,
    flavour: "1.x",
    dataDir: dir,
    config,
    client: (role, db) => createInfluxClient(config(role, db)),
    createDatabase,
    ...lifecycle,
  };
};
