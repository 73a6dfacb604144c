import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInfluxClient, type InfluxConfig } from "@vigil/influx";
import type { Influxd, InfluxRole } from "./influxd.js";
import { type ManagedProcess, spawnManaged, startRestartable, WaitAbortedError, waitFor } from "./process.js";

const secret = () => randomBytes(24).toString("hex");
const ORG = "vigil";
const TIMEOUT_MS = 30_000;

/** influxd 2.x logs `msg=Listening ... transport=http addr=127.0.0.1:0 port=N` once its HTTP port is bound. */
const listeningPort = (output: string): number | undefined => {
  const port = /msg=Listening .*transport=http .*port=(\d+)/.exec(output)?.[1];
  return port === undefined ? undefined : Number(port);
};

interface ApiOptions {
  readonly method?: string;
  readonly token?: string;
  readonly body?: unknown;
}

/**
 * Starts InfluxDB 2.x (`bin`) on a port it chooses and temporary directories, sets it up (admin
 * token, organisation `vigil`, bucket `database`) and creates a `writer` token that may only write
 * and a `reader` token that may only read the organisation's buckets. Queries and writes then go
 * through the v1 compatibility API, where every bucket is mapped to the database of its name.
 * `env` adds to its environment (influxd reads every setting from `INFLUXD_...` variables too).
 */
export const startInfluxd2 = async (
  bin: string,
  database: string,
  env: Readonly<Record<string, string>> = {},
): Promise<Influxd> => {
  const dir = await mkdtemp(join(tmpdir(), "vigil-influxd2-"));
  const tokens: Record<InfluxRole, string> = { admin: secret(), writer: "", reader: "" };
  let url = "";
  let bindAddress = "127.0.0.1:0";

  const api = async <T>(path: string, options: ApiOptions = {}): Promise<T> => {
    const response = await fetch(`${url}${path}`, {
      method: options.method ?? "GET",
      headers: {
        "content-type": "application/json",
        ...(options.token === undefined ? {} : { authorization: `Token ${options.token}` }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`InfluxDB ${options.method ?? "GET"} ${path}: ${response.status} ${text}`);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  };

  const launch = async (): Promise<ManagedProcess> => {
    const proc = spawnManaged(
      bin,
      [
        `--bolt-path=${join(dir, "influxd.bolt")}`,
        `--engine-path=${join(dir, "engine")}`,
        `--sqlite-path=${join(dir, "influxd.sqlite")}`,
        `--http-bind-address=${bindAddress}`,
        "--reporting-disabled",
        "--log-level=info",
        "--metrics-disabled",
        "--ui-disabled",
      ],
      { ...process.env, ...env },
    );
    await waitFor("influxd 2.x to bind its HTTP port", () => {
      if (proc.child.exitCode !== null) throw new WaitAbortedError(`influxd exited: ${proc.output()}`);
      const port = listeningPort(proc.output());
      if (port === undefined) return false;
      // A restart binds the same port again, so that clients made before it still reach the server.
      bindAddress = `127.0.0.1:${port}`;
      url = `http://${bindAddress}`;
      return true;
    });
    await waitFor(`influxd 2.x on ${url}`, async () => (await fetch(`${url}/health`)).ok, TIMEOUT_MS);
    return proc;
  };
  const lifecycle = await startRestartable(launch, dir);

  const setup = await api<{ org: { id: string } }>("/api/v2/setup", {
    method: "POST",
    body: { username: "admin", password: secret(), org: ORG, bucket: database, token: tokens.admin },
  });
  const orgID = setup.org.id;
  const authorize = async (role: InfluxRole, action: "read" | "write") => {
    const created = await api<{ token: string }>("/api/v2/authorizations", {
      method: "POST",
      token: tokens.admin,
      body: {
        orgID,
        description: `vigil tests: ${role}, ${action} only`,
        permissions: [{ action, resource: { type: "buckets", orgID } }],
      },
    });
    tokens[role] = created.token;
  };
  await authorize("writer", "write");
  await authorize("reader", "read");

  const config = (role: InfluxRole, db = database): InfluxConfig => ({
    url,
    database: db,
    auth: { kind: "token", token: tokens[role] },
    timeoutMs: TIMEOUT_MS,
  });

  return {
    get url() {
      return url;
    },
    managed: true,
    flavour: "2.x",
    dataDir: dir,
    config,
    client: (role, db) => createInfluxClient(config(role, db)),
    async createDatabase(name) {
      await api("/api/v2/buckets", { method: "POST", token: tokens.admin, body: { orgID, name, retentionRules: [] } });
    },
    stop: lifecycle.stop,
    start: lifecycle.start,
    dispose: lifecycle.dispose,
  };
};
