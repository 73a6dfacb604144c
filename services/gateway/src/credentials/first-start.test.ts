import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAccessTokens } from "../auth/access-tokens.js";
import { parseCredentials } from "../auth/credentials.js";
import { CREDENTIALS_FILE, prepareFirstStart, SIGNING_KEY_FILE } from "./first-start.js";

let root: string;
let dir: string;
let secrets: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "vigil-first-start-"));
  dir = join(root, "gateway");
  secrets = join(root, "first-start");
  mkdirSync(dir);
  mkdirSync(secrets);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

const secret = (name: string) => readFileSync(join(secrets, name), "utf8").trim();

describe("prepareFirstStart", () => {
  it("creates a signing key the gateway loads, and an admin, a viewer and a producer key that sign in", async () => {
    const created = await prepareFirstStart(dir, secrets);
    expect(created).toHaveLength(5);
    const tokens = await createAccessTokens(readFileSync(join(dir, SIGNING_KEY_FILE), "utf8"), 60_000);
    expect(tokens.keyId).toMatch(/\S/);
    const credentials = await parseCredentials(readFileSync(join(dir, CREDENTIALS_FILE), "utf8"));
    expect(await credentials.signIn("admin", secret("admin-password"))).toMatchObject({ role: "admin" });
    expect(await credentials.signIn("viewer", secret("viewer-password"))).toMatchObject({ role: "viewer" });
    expect(credentials.findApiKey(secret("producer-api-key"))).toMatchObject({ name: "producer", role: "producer" });
  });

  it("keeps the secrets out of the credentials file, and every file readable by its owner only", async () => {
    await prepareFirstStart(dir, secrets);
    const file = readFileSync(join(dir, CREDENTIALS_FILE), "utf8");
    for (const name of ["admin-password", "viewer-password", "producer-api-key"]) {
      expect(file).not.toContain(secret(name));
      expect(statSync(join(secrets, name)).mode & 0o777).toBe(0o400);
    }
    expect(statSync(join(dir, CREDENTIALS_FILE)).mode & 0o777).toBe(0o400);
    expect(statSync(join(dir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o400);
  });

  it("changes nothing when run again", async () => {
    await prepareFirstStart(dir, secrets);
    const before = [SIGNING_KEY_FILE, CREDENTIALS_FILE].map((name) => readFileSync(join(dir, name), "utf8"));
    const password = secret("admin-password");
    expect(await prepareFirstStart(dir, secrets)).toEqual([]);
    expect([SIGNING_KEY_FILE, CREDENTIALS_FILE].map((name) => readFileSync(join(dir, name), "utf8"))).toEqual(before);
    expect(secret("admin-password")).toBe(password);
  });
});
