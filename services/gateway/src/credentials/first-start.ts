import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createApiKey, createUserLine } from "../auth/credentials.js";

/** The files {@link prepareFirstStart} creates in the gateway's folder. */
export const SIGNING_KEY_FILE = "signing-key.pem";
export const CREDENTIALS_FILE = "credentials";

/** The first users and key, whose secrets are written once, each to a file of its own. */
const FIRST_CREDENTIALS = [
  { kind: "user", name: "admin", role: "admin", secretFile: "admin-password" },
  { kind: "user", name: "viewer", role: "viewer", secretFile: "viewer-password" },
  { kind: "key", name: "producer", role: "producer", secretFile: "producer-api-key" },
] as const;

/** Writes `text` to `path` readable by its owner only, whole or not at all. */
const writeSecret = async (path: string, text: string): Promise<void> => {
  await writeFile(`${path}.tmp`, text, { mode: 0o400, flag: "w" });
  await rename(`${path}.tmp`, path);
};

/**
 * What a fresh deployment needs to start the gateway, created the first time only: an Ed25519
 * signing key (PKCS#8 PEM) and a credentials file with the users `admin` and `viewer` and the
 * producer API key `producer`. Their secrets go to `secretsDir`, one file each, which only the
 * operator reads; the credentials file holds only their hashes. Returns the files it created
 * (none when everything was there).
 */
export const prepareFirstStart = async (dir: string, secretsDir: string): Promise<string[]> => {
  const created: string[] = [];
  const keyPath = join(dir, SIGNING_KEY_FILE);
  if (!existsSync(keyPath)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    await writeSecret(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
    created.push(keyPath);
  }
  const credentialsPath = join(dir, CREDENTIALS_FILE);
  if (existsSync(credentialsPath)) return created;
  const lines = ['# Vigil gateway credentials (README, "The gateway"): hashes only.'];
  for (const first of FIRST_CREDENTIALS) {
    let secret: string;
    if (first.kind === "user") {
      secret = randomBytes(18).toString("base64url");
      lines.push(await createUserLine(first.name, first.role, secret));
    } else {
      const apiKey = createApiKey(first.name, first.role);
      secret = apiKey.key;
      lines.push(apiKey.line);
    }
    await writeSecret(join(secretsDir, first.secretFile), `${secret}\n`);
    created.push(join(secretsDir, first.secretFile));
  }
  // Last, so that an interrupted first start is done again in full the next time.
  await writeSecret(credentialsPath, `${lines.join("\n")}\n`);
  created.push(credentialsPath);
  return created;
};
