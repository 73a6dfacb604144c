import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type NatsServer, startNatsServer } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { connectNats, NatsEnv } from "./nats.js";

const MAKE_CERTS = fileURLToPath(new URL("../../../deploy/tls/make-certs.sh", import.meta.url));
const log = createLogger("test", "silent");

describe("NATS over TLS", () => {
  let nats: NatsServer;
  let dir: string;
  let otherCa: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vigil-tls-"));
    execFileSync("bash", [MAKE_CERTS, join(dir, "good"), "localhost"]);
    execFileSync("bash", [MAKE_CERTS, join(dir, "other"), "localhost"]);
    otherCa = join(dir, "other", "ca.pem");
    nats = await startNatsServer({
      config: `tls { cert_file: "${join(dir, "good", "server.pem")}", key_file: "${join(dir, "good", "server-key.pem")}", timeout: 5 }`,
      probeTlsCaFile: join(dir, "good", "ca.pem"),
    });
  });
  afterAll(async () => {
    await nats?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (caFile: string) =>
    NatsEnv.parse({
      NATS_URL: `tls://127.0.0.1:${nats.port}`,
      NATS_TLS_CA_FILE: caFile,
      NATS_CONNECT_TIMEOUT_MS: "1000",
    });

  it("connects when the server's certificate is signed by the configured CA", async () => {
    const nc = await connectNats(env(join(dir, "good", "ca.pem")), "tls-test", log);
    const rtt = await nc.rtt();
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();
  });

  it("refuses a server whose certificate another CA signed", async () => {
    await expect(connectNats(env(otherCa), "tls-test", log)).rejects.toThrow(/cannot connect to NATS/);
  });
});
