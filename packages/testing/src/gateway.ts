import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runToExit } from "./process.js";
import { type RunningService, startService } from "./services.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** What the gateway's `credentials init` made: its settings, and the first users' secrets. */
export interface GatewayFiles {
  /** `GATEWAY_SIGNING_KEY_FILE` and `GATEWAY_CREDENTIALS_FILE`. */
  readonly env: Readonly<Record<string, string>>;
  /** The password of `admin` or `viewer`, or the `producer` API key. */
  secret(name: "admin-password" | "viewer-password" | "producer-api-key"): string;
}

/**
 * Runs the built `credentials init` (as compose's `gateway-init` does) into `authDir` (signing key,
 * credentials file) and `secretsDir` (the first users' secrets), creating both folders.
 */
export const prepareGatewayFiles = async (authDir: string, secretsDir: string): Promise<GatewayFiles> => {
  mkdirSync(authDir, { recursive: true });
  mkdirSync(secretsDir, { recursive: true });
  const init = await runToExit(
    process.execPath,
    [`${ROOT}services/gateway/dist/credentials/main.js`, "init", authDir, secretsDir],
    { PATH: process.env.PATH ?? "" },
  );
  if (init.code !== 0) throw new Error(`credentials init failed: ${init.stderr}`);
  return {
    env: {
      GATEWAY_SIGNING_KEY_FILE: join(authDir, "signing-key.pem"),
      GATEWAY_CREDENTIALS_FILE: join(authDir, "credentials"),
    },
    secret: (name) => readFileSync(join(secretsDir, name), "utf8").trim(),
  };
};

/** A running gateway process and where its public port is. */
export interface RunningGateway {
  readonly service: RunningService;
  readonly port: number;
  /** `http://127.0.0.1:<port>` (or `https://` with a certificate). */
  readonly url: string;
}

/**
 * Starts the built gateway (`pnpm build` first) with `env` (`GATEWAY_PORT` 0 unless set) and
 * reads the port it bound from its "serving the HTTP API" log line.
 */
export const startGateway = async (env: Record<string, string>): Promise<RunningGateway> => {
  const service = await startService("gateway", { GATEWAY_PORT: "0", ...env });
  const serving = service.process.logs().find((line) => line.msg === "serving the HTTP API");
  if (typeof serving?.port !== "number") {
    await service.process.stop();
    throw new Error("the gateway logged no port");
  }
  const scheme = env.GATEWAY_TLS_CERT_FILE === undefined ? "http" : "https";
  return { service, port: serving.port, url: `${scheme}://127.0.0.1:${serving.port}` };
};
