import { existsSync, readdirSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { STREAMS_API_PREFIX } from "./compose-nats.js";
import {
  type ComposeService,
  natsUsers,
  parseMount,
  ROOT,
  readCompose,
  readEnvFile,
  readRepoFile,
  referencedVariables,
  withDefaults,
} from "./deployment-files.js";

// What docker-compose.yml promises beyond what its schema checks (docker-compose config, dclint):
// hardening, limits, start order, and that the files which must agree with each other do.

const COMPOSE_FILES = ["docker-compose.yml", "deploy/compose.debug.yml", "deploy/compose.tls.yml"];
const compose = readCompose("docker-compose.yml");
const services = Object.entries(compose.services);
const envExample = readEnvFile(".env.example");
const natsConf = readRepoFile("deploy/nats/nats.conf");
const serviceFolders = readdirSync(`${ROOT}services`).filter((name) =>
  existsSync(`${ROOT}services/${name}/package.json`),
);

/** The one container that runs as root: it creates the secret volumes' files and hands them over. */
const ROOT_INIT = "secrets";
/** Services that run once per `up` and exit. */
const ONE_SHOTS = new Set([ROOT_INIT, "influxdb-init", "nats-setup", "gateway-init"]);
/** Every container of an image built from Dockerfile.base: the services and two one-shots. */
const fromBase = services.filter(([, service]) => service.build?.dockerfile === "Dockerfile.base");
/** The long-running services, one per service folder, keyed by the SERVICE build argument. */
const built = fromBase.filter(([name]) => !ONE_SHOTS.has(name));
/** The service that talks to InfluxDB and the writer only, never to NATS. */
const INFLUX_GATE = "influx-gate";
/** Who logs in to NATS, as which user: the services, each as itself, and the one-shot set-up. */
const natsLogins: [string, string][] = [
  ...built.filter(([name]) => name !== INFLUX_GATE).map(([name]) => [name, name] as [string, string]),
  ["nats-setup", "setup"],
];
/** Services without an operations endpoint (the client is a command-line tool). */
const WITHOUT_OPS = new Set(["client"]);

const env = (service: ComposeService, name: string): string | undefined => {
  const value = service.environment?.[name];
  return value === undefined || value === null ? undefined : String(value);
};

const mounts = (service: ComposeService) => (service.volumes ?? []).map(parseMount);

describe("docker-compose.yml hardening", () => {
  it.each(services)("%s has a read-only root filesystem, no capabilities and no privilege gain", (_name, service) => {
    expect(service.read_only).toBe(true);
    expect(service.cap_drop).toContain("ALL");
    expect(service.security_opt).toContain("no-new-privileges:true");
  });

  it.each(services.filter(([name]) => name !== ROOT_INIT))("%s runs as a non-root user", (_name, service) => {
    expect(service.user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
  });

  it("lets only the one-shot secrets container start as root, offline and with three capabilities", () => {
    const init = compose.services[ROOT_INIT];
    expect(init?.user).toBe("0:0");
    expect(init?.network_mode).toBe("none");
    expect(init?.restart).toBe("no");
    expect(new Set(init?.cap_add)).toEqual(new Set(["CHOWN", "DAC_OVERRIDE", "FOWNER"]));
  });

  it.each(services)("%s has CPU, memory and process limits", (_name, service) => {
    expect(service.deploy?.resources?.limits?.cpus).toBeDefined();
    expect(service.deploy?.resources?.limits?.memory).toBeDefined();
    expect(service.deploy?.resources?.limits?.pids).toBeGreaterThan(0);
    // Compose v2 reads a top-level pids_limit as a second, conflicting value of the same limit.
    expect(service.pids_limit).toBeUndefined();
  });

  it("publishes the gateway's port only, on the loopback interface, and keeps the other network internal", () => {
    for (const [name, service] of services) {
      expect(service.expose ?? []).toEqual([]);
      if (name !== "gateway") expect(service.ports ?? [], name).toEqual([]);
    }
    expect((compose.services.gateway?.ports ?? []).map(withDefaults)).toEqual(["127.0.0.1:8080:8080"]);
    expect(compose.networks?.vigil?.internal).toBe(true);
    // The gateway's second network exists only to publish its port; without masquerading it has no route out.
    expect(compose.services.gateway?.networks).toEqual(["vigil", "edge"]);
    expect(compose.networks?.edge?.driver_opts?.["com.docker.network.bridge.enable_ip_masquerade"]).toBe("false");
    for (const [name, service] of services.filter(([name]) => name !== "gateway")) {
      expect(service.networks ?? [], name).not.toContain("edge");
    }
  });

  it("keeps InfluxDB on `storage`, which the writer is not on, and the writer and the gate alone on `influx-writes`", () => {
    const on = (network: string) =>
      services.filter(([, service]) => ((service.networks ?? []) as string[]).includes(network)).map(([n]) => n);
    expect(compose.networks?.storage?.internal).toBe(true);
    expect(compose.networks?.["influx-writes"]?.internal).toBe(true);
    expect(compose.services.influxdb?.networks).toEqual(["storage"]);
    expect(on("storage").sort()).toEqual(["influxdb", "influxdb-init", INFLUX_GATE, "reader"].sort());
    expect(on("influx-writes").sort()).toEqual([INFLUX_GATE, "writer"].sort());
    expect(compose.services[INFLUX_GATE]?.networks).not.toContain("vigil");
    // The debugging override publishes InfluxDB, but does not put it where the writer is.
    const debug = readCompose("deploy/compose.debug.yml");
    expect(debug.services.influxdb?.networks).toEqual(["storage", "debug"]);
  });

  it.each(services.filter(([name]) => !ONE_SHOTS.has(name)))("%s restarts unless stopped", (_name, service) => {
    expect(service.restart).toBe("unless-stopped");
  });
});

describe("docker-compose.yml images", () => {
  it.each(services.filter(([, service]) => service.build === undefined))(
    "%s pulls a pinned image tag",
    (_name, service) => {
      const image = withDefaults(service.image ?? "");
      const tag = image.split(":")[1] ?? "";
      expect(tag, image).toMatch(/\d/);
      expect(tag).not.toBe("latest");
    },
  );

  it("builds one image per service folder from Dockerfile.base, never pulling it", () => {
    expect(built.map(([, service]) => service.build?.args?.SERVICE).sort()).toEqual([...serviceFolders].sort());
    for (const [name, service] of built) expect(service.build?.args?.SERVICE).toBe(name);
    for (const [name, service] of fromBase) {
      expect(service.pull_policy, name).toBe("build");
      expect(service.image, name).toBe(`vigil/${service.build?.args?.SERVICE}:\${VIGIL_IMAGE_TAG:-local}`);
    }
  });

  it("runs the one-shot set-ups from the image of the service they prepare", () => {
    expect(compose.services["nats-setup"]?.build?.args?.SERVICE).toBe("writer");
    expect(compose.services["nats-setup"]?.command).toEqual(["node", "dist/setup/main.js"]);
    expect(compose.services["gateway-init"]?.build?.args?.SERVICE).toBe("gateway");
    expect(compose.services["gateway-init"]?.network_mode).toBe("none");
  });

  it("pins the same Node, NATS and InfluxDB images in docker-compose.yml, Dockerfile.base and .env.example", () => {
    const dockerfileDefault = /^ARG NODE_IMAGE=(\S+)$/m.exec(readRepoFile("Dockerfile.base"))?.[1];
    const nodeImages = new Set([
      withDefaults(compose.services[ROOT_INIT]?.image ?? ""),
      ...built.map(([, service]) => withDefaults(service.build?.args?.NODE_IMAGE ?? "")),
    ]);
    expect(nodeImages).toEqual(new Set([dockerfileDefault]));
    expect(envExample.get("NODE_IMAGE")).toBe(dockerfileDefault);
    expect(envExample.get("NATS_IMAGE")).toBe(withDefaults(compose.services.nats?.image ?? ""));
    expect(envExample.get("INFLUXDB_IMAGE")).toBe(withDefaults(compose.services.influxdb?.image ?? ""));
  });
});

describe("docker-compose.yml start order and health", () => {
  it.each(services)("%s waits for its dependencies to be healthy or done, never merely started", (_name, service) => {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      expect(["service_healthy", "service_completed_successfully"]).toContain(condition);
      if (condition === "service_healthy") {
        expect(compose.services[dependency]?.healthcheck?.disable, `${dependency} has a healthcheck`).not.toBe(true);
      }
    }
  });

  it("starts NATS and InfluxDB after the secrets exist, and each service after what it uses", () => {
    const dependsOn = (name: string) => Object.keys(compose.services[name]?.depends_on ?? {}).sort();
    expect(dependsOn("nats")).toEqual([ROOT_INIT]);
    expect(dependsOn("influxdb")).toEqual([ROOT_INIT]);
    expect(dependsOn("influxdb-init")).toEqual(["influxdb"]);
    expect(dependsOn("nats-setup")).toEqual(["nats"]);
    expect(dependsOn("gateway-init")).toEqual([ROOT_INIT]);
    expect(dependsOn("daemon")).toEqual(["nats-setup"]);
    expect(dependsOn("writer")).toEqual([INFLUX_GATE, "nats-setup"]);
    expect(dependsOn(INFLUX_GATE)).toEqual(["influxdb-init"]);
    expect(compose.services.writer?.depends_on?.[INFLUX_GATE]?.condition).toBe("service_healthy");
    expect(dependsOn("reader")).toEqual(["influxdb-init", "nats"]);
    expect(dependsOn("client")).toEqual(["reader"]);
    expect(dependsOn("gateway")).toEqual(["gateway-init", "nats-setup", "reader"]);
  });

  it.each(built.filter(([name]) => !WITHOUT_OPS.has(name)))("%s is healthy once /readyz says so", (_name, service) => {
    expect(service.healthcheck?.test).toEqual(["CMD", "node", "/usr/local/lib/vigil/probe.mjs", "/readyz"]);
  });

  it("keeps the client, which serves no operations endpoint, without a healthcheck", () => {
    expect(compose.services.client?.healthcheck?.disable).toBe(true);
  });
});

describe("docker-compose.yml secrets wiring", () => {
  it.each(natsLogins)("%s logs in to NATS as %s, with the password from its own volume", (name, user) => {
    const service = compose.services[name] ?? {};
    expect(env(service, "NATS_USER")).toBe(user);
    expect(natsUsers(natsConf)).toContain(user);
    const passwordFile = env(service, "NATS_PASSWORD_FILE") ?? "";
    const mount = mounts(service).find((m) => m.target === dirname(passwordFile));
    expect(mount).toEqual({ source: `${user}-secrets`, target: dirname(passwordFile), readOnly: true });
    expect(mounts(compose.services.nats ?? {})).toContainEqual({
      source: `${user}-secrets`,
      target: `/run/vigil/secrets/${user}`,
      readOnly: true,
    });
    expect(env(service, "NATS_PASSWORD")).toBeUndefined();
  });

  it("defines exactly one NATS user per service but the influx-gate, and one for the set-up", () => {
    expect(natsUsers(natsConf).sort()).toEqual(
      [...serviceFolders.filter((name) => name !== INFLUX_GATE), "setup"].sort(),
    );
    expect(
      Object.keys(compose.services[INFLUX_GATE]?.environment ?? {}).filter((name) => name.startsWith("NATS_")),
    ).toEqual([]);
  });

  it.each(natsLogins)("%s has its own inbox prefix, the only inboxes nats.conf lets it subscribe to", (name, user) => {
    expect(env(compose.services[name] ?? {}, "NATS_INBOX_PREFIX")).toBe(`_INBOX_${user}`);
    expect(natsConf).toContain(`"_INBOX_${user}.>"`);
  });

  it.each(["writer", "gateway"])(
    "%s reaches the streams through its account's imports, and only checks them",
    (name) => {
      const service = compose.services[name] ?? {};
      expect(env(service, "NATS_STREAMS_API_PREFIX")?.replaceAll("$$", "$")).toBe(STREAMS_API_PREFIX);
      expect(env(service, "NATS_TOPOLOGY")).toBe("check");
      expect(natsConf).toContain(`to: "${STREAMS_API_PREFIX}.`);
    },
  );

  it("lets no NATS user subscribe to the shared inbox prefix", () => {
    expect(natsConf).not.toMatch(/"_INBOX\./);
  });

  it("starts NATS with the limits' defaults that deploy/nats/entrypoint.sh applies", () => {
    const entrypoint = readRepoFile("deploy/nats/entrypoint.sh");
    const defaults = new Map(
      [...entrypoint.matchAll(/^export (NATS_[A-Z_]+)="\$\{\1:-([^}]*)\}"$/gm)].map((m) => [m[1], m[2]]),
    );
    const passed = Object.entries(compose.services.nats?.environment ?? {});
    expect(passed.length).toBeGreaterThan(0);
    for (const [name, value] of passed) expect(withDefaults(String(value)), name).toBe(defaults.get(name));
  });

  it.each([
    [INFLUX_GATE, "gate-influx-token", "VIGIL_GATE_TOKEN_FILE"],
    ["reader", "reader-influx-token", "VIGIL_READER_TOKEN_FILE"],
  ])("%s reads the InfluxDB token that the init script writes for it into %s", (name, volume, variable) => {
    const service = compose.services[name] ?? {};
    const tokenFile = env(service, "INFLUX_TOKEN_FILE") ?? "";
    expect(mounts(service)).toContainEqual({ source: volume, target: dirname(tokenFile), readOnly: true });
    const init = compose.services["influxdb-init"] ?? {};
    const written = env(init, variable) ?? "";
    expect(mounts(init)).toContainEqual({ source: volume, target: dirname(written), readOnly: false });
    expect(tokenFile.split("/").at(-1)).toBe(written.split("/").at(-1));
    expect(env(service, "INFLUX_DATABASE")).toBe(env(init, "VIGIL_INFLUXDB_BUCKET"));
    expect(readRepoFile("deploy/influxdb/init.sh")).toContain(`"$${variable}"`);
    // Only the one service and the set-up that writes it mount the volume holding the token.
    const holders = services.filter(([, other]) => mounts(other).some((m) => m.source === volume)).map(([n]) => n);
    expect(holders.sort()).toEqual([ROOT_INIT, "influxdb-init", name].sort());
  });

  it("gives the writer no InfluxDB token, only the gate's, which secrets.sh makes and the writer and the gate alone mount", () => {
    const writer = compose.services.writer ?? {};
    const gate = compose.services[INFLUX_GATE] ?? {};
    const presented = env(writer, "INFLUX_TOKEN_FILE") ?? "";
    const accepted = env(gate, "INFLUX_GATE_TOKEN_FILE") ?? "";
    expect(mounts(writer)).toContainEqual({ source: "writer-gate-token", target: dirname(presented), readOnly: true });
    expect(mounts(gate)).toContainEqual({ source: "writer-gate-token", target: dirname(accepted), readOnly: true });
    expect(presented.split("/").at(-1)).toBe(accepted.split("/").at(-1));
    expect(readRepoFile("deploy/init/secrets.sh")).toContain(
      `ensure_secret "$root/writer-gate-token/${accepted.split("/").at(-1)}"`,
    );
    const holders = services.filter(([, s]) => mounts(s).some((m) => m.source === "writer-gate-token")).map(([n]) => n);
    expect(holders.sort()).toEqual([ROOT_INIT, INFLUX_GATE, "writer"].sort());
    for (const m of mounts(writer)) expect(m.source).not.toMatch(/influx-token$/);
  });

  it("sends the writer's writes to the gate, and the gate's to InfluxDB, for the same bucket", () => {
    const writer = compose.services.writer ?? {};
    const gate = compose.services[INFLUX_GATE] ?? {};
    expect(env(writer, "INFLUX_URL")).toBe(`http://${INFLUX_GATE}:${env(gate, "INFLUX_GATE_PORT")}`);
    expect(env(gate, "INFLUX_GATE_HOST")).toBe("0.0.0.0");
    expect(env(gate, "INFLUX_URL")).toBe("http://influxdb:8086");
    expect(env(writer, "INFLUX_DATABASE")).toBe(env(gate, "INFLUX_DATABASE"));
  });

  it("mounts into the secrets container exactly the folders its script prepares", () => {
    const script = readRepoFile("deploy/init/secrets.sh");
    const prepared = /^for dir in ([\w -]+); do$/m.exec(script)?.[1]?.split(" ") ?? [];
    const mounted = mounts(compose.services[ROOT_INIT] ?? {})
      .filter((m) => m.target.startsWith("/vigil/"))
      .map((m) => m.target.slice("/vigil/".length));
    expect(mounted.sort()).toEqual([...prepared].sort());
    for (const m of mounts(compose.services[ROOT_INIT] ?? {}).filter((m) => m.target.startsWith("/vigil/"))) {
      expect(Object.keys(compose.volumes ?? {})).toContain(m.source);
    }
  });

  it("gives the InfluxDB set-up its admin credentials as files only, and InfluxDB itself none", () => {
    const init = compose.services["influxdb-init"] ?? {};
    expect(env(init, "VIGIL_INFLUXDB_SECRETS")).toBe("/run/vigil/secrets");
    expect(mounts(init)).toContainEqual({ source: "influxdb-secrets", target: "/run/vigil/secrets", readOnly: true });
    for (const service of Object.values(compose.services)) {
      for (const name of Object.keys(service.environment ?? {})) expect(name).not.toMatch(/PASSWORD$|TOKEN$/);
    }
    expect(mounts(compose.services.influxdb ?? {}).map((m) => m.source)).toEqual(["influxdb-data"]);
  });

  it("runs influxd itself and the set-up as a visible one-shot, not through an image's entrypoint", () => {
    expect(compose.services.influxdb?.entrypoint).toEqual(["influxd"]);
    expect(compose.services["influxdb-init"]?.entrypoint).toEqual(["/bin/sh", "/etc/vigil/influxdb/init.sh"]);
    expect(compose.services["influxdb-init"]?.restart).toBe("no");
    for (const service of Object.values(compose.services)) {
      for (const name of Object.keys(service.environment ?? {})) expect(name).not.toMatch(/^DOCKER_INFLUXDB_INIT_/);
    }
  });
});

describe(".env.example", () => {
  it("documents every variable the compose files read, and only those", () => {
    const used = new Set(COMPOSE_FILES.flatMap((file) => [...referencedVariables(readRepoFile(file))]));
    expect([...envExample.keys()].sort()).toEqual([...used].sort());
  });

  it("shows the defaults that docker-compose.yml applies", () => {
    const text = COMPOSE_FILES.map(readRepoFile).join("\n");
    for (const match of text.matchAll(/\$\{([A-Z0-9_]+):-([^}]*)\}/g)) {
      expect(envExample.get(match[1] as string), match[1]).toBe(match[2]);
    }
  });
});

describe("deploy/compose.debug.yml", () => {
  it("publishes ports on the loopback interface only", () => {
    const debug = readCompose("deploy/compose.debug.yml");
    for (const [, service] of Object.entries(debug.services)) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    }
  });
});

describe("deploy/compose.tls.yml", () => {
  const tls = readCompose("deploy/compose.tls.yml");

  it.each(natsLogins)("%s speaks TLS to NATS and trusts the CA, mounted read-only", (name) => {
    const service = tls.services[name] ?? {};
    expect(env(service, "NATS_URL")).toBe("tls://nats:4222");
    const caFile = env(service, "NATS_TLS_CA_FILE") ?? "";
    const mount = mounts(service).find((m) => m.target === caFile);
    expect(mount?.readOnly).toBe(true);
    expect(mount?.source).toMatch(/\/ca\.pem$/);
  });

  it("gives NATS its certificate and key read-only, and nothing else of the CA", () => {
    const nats = tls.services.nats ?? {};
    expect(env(nats, "NATS_CONFIG")).toBe("/etc/vigil/nats/nats-tls.conf");
    expect(existsSync(`${ROOT}deploy/nats/nats-tls.conf`)).toBe(true);
    const entrypoint = readRepoFile("deploy/nats/entrypoint.sh");
    const targets = mounts(nats).map((m) => {
      expect(m.readOnly).toBe(true);
      return m.target;
    });
    expect(targets.sort()).toEqual(
      ["NATS_TLS_CERT_FILE", "NATS_TLS_KEY_FILE"]
        .map((name) => new RegExp(`^export ${name}="\\$\\{${name}:-([^}]*)\\}"$`, "m").exec(entrypoint)?.[1])
        .sort(),
    );
    for (const m of mounts(nats)) expect(m.source).not.toMatch(/ca-key/);
  });
});

describe("Dockerfile.base", () => {
  const dockerfile = readRepoFile("Dockerfile.base");
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

  it("runs the service as a non-root user with node's entry point and a health probe", () => {
    expect(finalStage).toMatch(/^USER [1-9]\d*:[1-9]\d*$/m);
    expect(finalStage).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
    expect(finalStage).toMatch(/^ {2}CMD \["node", "\/usr\/local\/lib\/vigil\/probe\.mjs", "\/healthz"\]$/m);
    expect(finalStage).toMatch(/^ENV NODE_ENV=production/m);
  });

  it("pins pnpm through package.json and installs from the lockfile only", () => {
    expect(JSON.parse(readRepoFile("package.json")).packageManager).toMatch(/^pnpm@\d+\.\d+\.\d+$/);
    expect(dockerfile).toMatch(
      /npm install --global "pnpm@\$\(node -p 'require\("\.\/package\.json"\)\.packageManager/,
    );
    expect(dockerfile).not.toMatch(/corepack enable/);
    expect(dockerfile).toMatch(/pnpm install --offline --frozen-lockfile/);
  });

  it("fixes the ops port of every image, and compose, the port and the probe agree on it", () => {
    // Each container has its own network namespace, so the images need not use the services'
    // distinct host defaults (9464, 9465, 9466): one explicit port keeps every probe the same.
    const port = /\bOPS_PORT=(\d+)$/m.exec(finalStage)?.[1];
    expect(port).toMatch(/^\d+$/);
    expect(finalStage).toMatch(new RegExp(`^EXPOSE ${port}$`, "m"));
    expect(readRepoFile("deploy/image/probe.mjs")).toContain(`process.env.OPS_PORT || "${port}"`);
    for (const [, service] of built.filter(([name]) => !WITHOUT_OPS.has(name))) {
      expect(env(service, "OPS_PORT")).toBe(port);
      expect(env(service, "OPS_HOST")).toBe("0.0.0.0");
    }
  });

  it("copies into the runtime stage nothing but the deployed service and the probe", () => {
    const copies = finalStage.split("\n").filter((line) => line.startsWith("COPY "));
    expect(copies).toEqual(["COPY --from=build /out ./", "COPY deploy/image/probe.mjs /usr/local/lib/vigil/probe.mjs"]);
  });
});

describe(".github/dependabot.yml", () => {
  it("updates npm packages, Docker images and GitHub Actions weekly", () => {
    const config = parse(readRepoFile(".github/dependabot.yml")) as {
      updates: { "package-ecosystem": string; schedule: { interval: string } }[];
    };
    const weekly = config.updates.filter((update) => update.schedule.interval === "weekly");
    expect(new Set(weekly.map((update) => update["package-ecosystem"]))).toEqual(
      new Set(["npm", "docker", "docker-compose", "github-actions"]),
    );
  });
});
