import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { type ManagedProcess, spawnManaged, startRestartable, WaitAbortedError, waitFor } from "./process.js";

/** A nats-server with JetStream for one test file. */
export interface NatsServer {
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** False when the server came from `NATS_URL` and cannot be stopped or restarted. */
  readonly managed: boolean;
  /** Stops the server (SIGTERM, or SIGKILL with `kill`), keeping its data. */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

export interface NatsServerOptions {
  /** Extra nats-server configuration appended to the generated file (accounts, TLS, limits). */
  readonly config?: string;
  /** Wait until this user can connect, for servers that require authentication. */
  readonly probeAuth?: { readonly user: string; readonly pass: string };
  /** CA to verify the server with, for servers that require TLS. */
  readonly probeTlsCaFile?: string;
  /** The nats-server binary: `NATS_SERVER_BIN`, or `nats-server` from PATH. */
  readonly bin?: string;
}

/** The client port nats-server reports in its ports file (`--ports_file_dir`), once it listens. */
const reportedPort = async (dir: string): Promise<number | undefined> => {
  const file = (await readdir(dir)).find((name) => name.endsWith(".ports"));
  if (file === undefined) return undefined;
  const { nats } = JSON.parse(await readFile(join(dir, file), "utf8")) as { nats?: string[] };
  const port = Number(/:(\d+)$/.exec(nats?.[0] ?? "")?.[1]);
  return port > 0 ? port : undefined;
};

/**
 * Starts `nats-server` (from PATH, or `NATS_SERVER_BIN`) with JetStream on a loopback port it
 * chooses itself (`-p -1`) and reports in its ports file, with a temporary store. When `NATS_URL`
 * is set, that server is used instead and nothing starts.
 */
export const startNatsServer = async (options: NatsServerOptions = {}): Promise<NatsServer> => {
  const external = process.env.NATS_URL;
  if (external !== undefined && external !== "" && options.config === undefined) {
    return {
      url: external,
      port: Number(new URL(external.replace(/^nats:/, "http:")).port),
      managed: false,
      stop: async () => {
        throw new Error("NATS_URL points at an external server, which the tests cannot stop");
      },
      start: async () => {},
      dispose: async () => {},
    };
  }
  const bin = options.bin ?? process.env.NATS_SERVER_BIN ?? "nats-server";
  const dir = await mkdtemp(join(tmpdir(), "vigil-nats-"));
  const configFile = join(dir, "nats.conf");
  await writeFile(
    configFile,
    [
      `jetstream { store_dir: "${join(dir, "store")}", max_memory_store: 256MB, max_file_store: 4GB }`,
      options.config ?? "",
    ].join("\n"),
  );
  let port = -1;
  const launch = async (): Promise<ManagedProcess> => {
    const portsDir = await mkdtemp(join(dir, "ports-"));
    // The first start lets the server choose its port; a restart takes the same one again, since
    // clients reconnect to the URL they know. Command-line flags override the configuration file.
    const proc = spawnManaged(bin, [
      "-c",
      configFile,
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "--ports_file_dir",
      portsDir,
    ]);
    await waitFor(`${bin} to report its port`, async () => {
      if (proc.child.exitCode !== null) throw new WaitAbortedError(`nats-server exited: ${proc.output()}`);
      const reported = await reportedPort(portsDir);
      if (reported === undefined || !proc.output().includes("Server is ready")) return false;
      port = reported;
      return true;
    });
    const url = `nats://127.0.0.1:${port}`;
    await waitFor(`nats-server on ${url}`, async () => {
      if (proc.child.exitCode !== null) throw new WaitAbortedError(`nats-server exited: ${proc.output()}`);
      const nc = await connect({
        servers: url,
        reconnect: false,
        ...(options.probeAuth ?? {}),
        ...(options.probeTlsCaFile === undefined ? {} : { tls: { caFile: options.probeTlsCaFile } }),
      });
      await nc.close();
      return true;
    });
    return proc;
  };
  const lifecycle = await startRestartable(launch, dir);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    managed: true,
    ...lifecycle,
  };
};
