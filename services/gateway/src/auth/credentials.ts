import { createHash, randomBytes } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { z } from "zod";
import type { Principal } from "./principal.js";
import { Role } from "./principal.js";

/** A user's or API key's name: what audit records and tokens call it. */
export const CredentialName = z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, "names are 1-64 of A-Z a-z 0-9 . _ @ -");

/**
 * One line of the credentials file, fields separated by single spaces:
 * `user <name> <role> <argon2id hash>` or `key <name> <role> <sha256 hex of the key>`.
 * Blank lines and lines starting with `#` are ignored.
 */
const CredentialLine = z.union([
  z.tuple([z.literal("user"), CredentialName, Role, z.string().startsWith("$argon2id$")]),
  z.tuple([
    z.literal("key"),
    CredentialName,
    Role,
    z.string().regex(/^[0-9a-f]{64}$/, "expected a SHA-256 hex digest"),
  ]),
]);

/** A credentials file that does not follow the format; the message names the line. */
export class CredentialsFileError extends Error {
  override readonly name = "CredentialsFileError";
}

/** The users and API keys the gateway knows, read once from the credentials file. */
export interface Credentials {
  /** The user, when `password` is theirs. Takes as long for an unknown name as for a wrong password. */
  signIn(name: string, password: string): Promise<Principal | undefined>;
  /** The API key's owner, when the key is known. */
  findApiKey(key: string): Principal | undefined;
  /** Whether `name` is still a user with `role` (a refresh re-checks it). */
  hasUser(name: string, role: Role): boolean;
  /** Whether `name` is still an API key with `role` (a refresh of a key's token re-checks it). */
  hasKey(name: string, role: Role): boolean;
}

/** API keys are 32 random bytes: fast to look up by digest, and too long to guess, so no slow hash is needed. */
const API_KEY_PREFIX = "vgk_";

/** SHA-256 of an API key, hex: what the credentials file keeps. */
export const digestApiKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex");

/** Hashes a password with argon2id at the library's defaults (19 MiB, 2 passes). */
export const hashPassword = (password: string): Promise<string> => hash(password);

/** A new API key and its line for the credentials file; the key is shown once and never stored. */
export const createApiKey = (name: string, role: Role): { key: string; line: string } => {
  const key = API_KEY_PREFIX + randomBytes(32).toString("base64url");
  return { key, line: `key ${CredentialName.parse(name)} ${role} ${digestApiKey(key)}` };
};

/** The line for the credentials file of a new user. */
export const createUserLine = async (name: string, role: Role, password: string): Promise<string> => {
  if (password.length < 12) throw new CredentialsFileError("a password must be at least 12 characters");
  return `user ${CredentialName.parse(name)} ${role} ${await hashPassword(password)}`;
};

/** Parses the credentials file; throws a {@link CredentialsFileError} naming the first bad line. */
export const parseCredentials = async (text: string): Promise<Credentials> => {
  const users = new Map<string, { role: Role; hash: string }>();
  const keys = new Map<string, Principal>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const parsed = CredentialLine.safeParse(line.split(" "));
    if (!parsed.success) {
      throw new CredentialsFileError(`credentials file line ${index + 1}: expected "user|key <name> <role> <hash>"`);
    }
    const [kind, name, role, digest] = parsed.data;
    if (users.has(name) || [...keys.values()].some((k) => k.name === name)) {
      throw new CredentialsFileError(`credentials file line ${index + 1}: ${name} is named twice`);
    }
    if (kind === "user") users.set(name, { role, hash: digest });
    else keys.set(digest, { name, role, via: "apiKey" });
  });
  // Verified against when the name is unknown, so that timing does not tell which names exist.
  const decoy = await hashPassword(randomBytes(16).toString("hex"));
  return {
    async signIn(name, password) {
      const user = users.get(name);
      const ok = await verify(user?.hash ?? decoy, password).catch(() => false);
      return ok && user !== undefined ? { name, role: user.role, via: "token" } : undefined;
    },
    findApiKey(key) {
      if (!key.startsWith(API_KEY_PREFIX)) return undefined;
      // Looked up by digest: what is compared is a hash of the key, never the key itself.
      return keys.get(digestApiKey(key));
    },
    hasUser: (name, role) => users.get(name)?.role === role,
    hasKey: (name, role) => [...keys.values()].some((key) => key.name === name && key.role === role),
  };
};
