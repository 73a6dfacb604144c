import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { freePort, type ManagedProcess, spawnManaged, WaitAbortedError, waitFor } from "./process.js";

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
}

/**
 * Starts `nats-server` (from PATH, or `NATS_SERVER_BIN`) with JetStream on a free loopback port
 * and a temporary store. When `NATS_URL` is set, that server is used instead and nothing starts.
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
  const dir = await mkdtemp(join(tmpdir(), "vigil-nats-"));
  const port = await freePort();
  const configFile = join(dir, "nats.conf");
  await writeFile(
    configFile,
    [
      `listen: "127.0.0.1:${port}"`,
      `jetstream { store_dir: "${join(dir, "store")}", max_memory_store: 256MB, max_file_store: 4GB }`,
      options.config ?? "",
    ].join("\n"),
  );
  const url = `nats://127.0.0.1:${port}`;
  let server: ManagedProcess | undefined;
  const start = async () => {
    const proc = spawnManaged(process.env.NATS_SERVER_BIN ?? "nats-server", ["-c", configFile]);
    server = proc;
    await waitFor(`nats-server on ${url}`, async () => {
      if (proc.child.exitCode !== null) throw new WaitAbortedError(`nats-server exited: ${proc.output()}`);
      if (!proc.output().includes("Server is ready")) return false;
      const nc = await connect({
        servers: url,
        reconnect: false,
        ...(options.probeAuth ?? {}),
        ...(options.probeTlsCaFile === undefined ? {} : { tls: { caFile: options.probeTlsCaFile } }),
      });
      await nc.close();
      return true;
    });
  };
  await start();
  return {
    url,
    port,
    managed: true,
    async stop({ kill = false } = {}) {
      await server?.stop(kill ? "SIGKILL" : "SIGTERM");
      server = undefined;
    },
    start,
    async dispose() {
      await server?.stop("SIGKILL");
      server = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
};
