import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort, waitFor } from "@vigil/testing";
import {
  DockerComposeEnvironment,
  type StartedDockerComposeEnvironment,
  type StartedTestContainer,
  Wait,
} from "testcontainers";

const run = promisify(execFile);

/** The repository's root, where docker-compose.yml lives. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Runs `command` to its end and returns its standard output; throws with its output when it fails. */
export const sh = async (command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> => {
  try {
    const { stdout } = await run(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const { stdout = "", stderr = "" } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stdout}${stderr}`, { cause: err });
  }
};

/**
 * The settings that point docker-compose.yml at the images scripts/build-images.sh builds here;
 * fails when one is missing, since compose would then try to pull it.
 */
export const localImages = async (): Promise<Record<string, string>> => {
  const printed = await sh("bash", ["scripts/build-images.sh", "--print"]);
  const settings = Object.fromEntries(
    printed
      .trim()
      .split("\n")
      .map((line) => line.split("=", 2) as [string, string]),
  );
  for (const image of Object.values(settings)) {
    await sh("docker", ["image", "inspect", image]).catch(() => {
      throw new Error(`image ${image} is missing: run scripts/build-images.sh`);
    });
  }
  return settings;
};

/** Services that run until stopped and have a health check. */
export const HEALTHY_SERVICES = ["nats", "influxdb", "influx-gate", "daemon", "writer", "reader", "gateway"] as const;
/** Every service that runs until stopped. */
export const LONG_RUNNING = [...HEALTHY_SERVICES, "client"] as const;
/** One-shot services, which must exit 0. */
export const ONE_SHOTS = ["secrets", "influxdb-init", "nats-setup", "gateway-init"] as const;

/** A compose project of this repository's stack, driven through testcontainers. */
export interface Stack {
  readonly project: string;
  readonly files: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Starts (or starts again) the stack, building the service images. */
  up(): Promise<void>;
  /** `docker compose down`, removing the volumes with `volumes`. */
  down(options: { volumes: boolean }): Promise<void>;
  /** The running container of `service`. */
  container(service: string): StartedTestContainer;
  /** Runs `docker compose ARGS` on the project. */
  compose(...args: string[]): Promise<string>;
  /** The id of `service`'s container, running or not. */
  containerId(service: string): Promise<string>;
  /** The gateway's URL on the host, where the stack published it. */
  gatewayUrl(): Promise<string>;
  /** One of the first users' secrets that `gateway-init` wrote, read as README says. */
  firstStartSecret(name: "admin-password" | "viewer-password" | "producer-api-key"): Promise<string>;
}

/**
 * The build CA (docker-compose.yml's `npm_ca` build secret): `VIGIL_BUILD_CA`, or else the extra CA
 * this machine gives Node (`NODE_EXTRA_CA_CERTS`), which is how a machine behind a TLS-re-signing
 * proxy reaches the npm registry at all.
 */
const buildCa = (): Record<string, string> => {
  const ca = process.env.VIGIL_BUILD_CA || process.env.NODE_EXTRA_CA_CERTS;
  return ca === undefined || ca === "" ? {} : { VIGIL_BUILD_CA: ca };
};

/**
 * A stack of docker-compose.yml plus `overrides`, under a project name of its own, with the
 * gateway published on a free port of the host's loopback interface.
 */
export const createStack = async (
  settings: Record<string, string>,
  overrides: readonly string[] = [],
): Promise<Stack> => {
  const project = `vigil-test-${randomBytes(4).toString("hex")}`;
  const env = { ...buildCa(), GATEWAY_PUBLISH_PORT: String(await freePort()), ...settings };
  const files = ["docker-compose.yml", ...overrides];
  let started: StartedDockerComposeEnvironment | undefined;
  const compose = (...args: string[]) =>
    sh("docker", ["compose", "-p", project, ...files.flatMap((file) => ["-f", file]), ...args], env);
  return {
    project,
    files,
    env,
    async up() {
      let environment = new DockerComposeEnvironment(ROOT, [...files])
        .withProjectName(project)
        .withEnvironment(env)
        .withBuild()
        // The reaper container would be one more image to pull; afterAll takes the stack down.
        .withAutoCleanup(false)
        .withStartupTimeout(180_000);
      for (const service of HEALTHY_SERVICES) {
        environment = environment.withWaitStrategy(`${service}-1`, Wait.forHealthCheck());
      }
      started = await environment.up();
    },
    async down({ volumes }) {
      await compose("down", "--timeout", "30", ...(volumes ? ["--volumes"] : []));
      started = undefined;
    },
    container(service) {
      if (started === undefined) throw new Error("the stack is not up");
      return started.getContainer(`${service}-1`);
    },
    compose,
    async containerId(service) {
      const id = (await compose("ps", "--all", "--quiet", service)).trim();
      if (id === "") throw new Error(`no container for ${service} in ${project}`);
      return id;
    },
    async gatewayUrl() {
      return `http://${(await compose("port", "gateway", "8080")).trim()}`;
    },
    async firstStartSecret(name) {
      // As README says: `--progress quiet` keeps the image check's build output out of what is printed.
      const printed = await compose(
        "--progress",
        "quiet",
        "run",
        "--rm",
        "--no-deps",
        "gateway-init",
        "cat",
        `/run/vigil/first-start/${name}`,
      );
      return printed.trim();
    },
  };
};

/** `docker inspect` of one container. */
export const inspect = async (id: string): Promise<ContainerInspect> =>
  (JSON.parse(await sh("docker", ["inspect", id])) as ContainerInspect[])[0] as ContainerInspect;

export interface ContainerInspect {
  readonly Config: { readonly Env: readonly string[]; readonly User: string; readonly Image: string };
  readonly HostConfig: { readonly ReadonlyRootfs: boolean; readonly CapDrop: readonly string[] | null };
  readonly State: { readonly Status: string; readonly ExitCode: number; readonly Health?: { readonly Status: string } };
}

/** Runs a command in a running container and returns its output; throws when it exits non-zero. */
export const execIn = async (container: StartedTestContainer, command: readonly string[]): Promise<string> => {
  const result = await container.exec([...command]);
  if (result.exitCode !== 0) {
    throw new Error(`${command.join(" ")} exited ${result.exitCode} in ${container.getName()}: ${result.output}`);
  }
  return result.stdout;
};

/**
 * A request to InfluxDB's v1 API from inside `container`, to its INFLUX_URL with the token that
 * container mounts at INFLUX_TOKEN_FILE (the reader's or the influx-gate's InfluxDB token; for the
 * writer, the gate's token, sent to the gate): proves what that service's own credential may do.
 */
export const influxFromService = async (
  container: StartedTestContainer,
  request: { readonly path: string; readonly query?: string; readonly body?: string },
): Promise<{ status: number; body: string }> => {
  const script = `
    const token = require("node:fs").readFileSync(process.env.INFLUX_TOKEN_FILE, "utf8").trim();
    const url = new URL(process.env.INFLUX_URL + process.argv[1]);
    url.searchParams.set("db", process.env.INFLUX_DATABASE);
    if (process.argv[2] !== "") url.searchParams.set("q", process.argv[2]);
    const body = process.argv[3];
    fetch(url, {
      method: body === "" ? "GET" : "POST",
      headers: { authorization: "Token " + token },
      ...(body === "" ? {} : { body }),
    }).then(async (response) => console.log(JSON.stringify({ status: response.status, body: await response.text() })));
  `;
  const output = await execIn(container, ["node", "-e", script, request.path, request.query ?? "", request.body ?? ""]);
  return JSON.parse(output) as { status: number; body: string };
};

/** The ids of every event stored in InfluxDB, read with the reader's own token. */
export const storedIds = async (reader: StartedTestContainer): Promise<string[]> => {
  const { status, body } = await influxFromService(reader, {
    path: "/query",
    query: 'SELECT "id" FROM "security_events"',
  });
  if (status !== 200) throw new Error(`query failed: ${status} ${body}`);
  const result = JSON.parse(body) as { results: { series?: { values: [string, string][] }[]; error?: string }[] };
  const first = result.results[0];
  if (first?.error !== undefined) throw new Error(first.error);
  return (first?.series?.[0]?.values ?? []).map(([, id]) => id);
};

/** The value of one counter on a service's /metrics, read from inside its container. */
export const metric = async (container: StartedTestContainer, name: string): Promise<number> => {
  const text = await execIn(container, [
    "node",
    "-e",
    'fetch("http://127.0.0.1:" + process.env.OPS_PORT + "/metrics").then((r) => r.text()).then(console.log)',
  ]);
  const line = text.split("\n").find((row) => row.startsWith(`${name} `) || row.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`no ${name} on /metrics`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
};

/** Waits until `service`'s logs hold a line matching `pattern`, and returns the logs. */
export const waitForLog = async (stack: Stack, service: string, pattern: RegExp, timeoutMs: number) => {
  let logs = "";
  await waitFor(
    `${service}'s logs to match ${pattern}`,
    async () => {
      logs = await stack.compose("logs", "--no-color", "--no-log-prefix", service);
      return pattern.test(logs);
    },
    timeoutMs,
    1_000,
  );
  return logs;
};
