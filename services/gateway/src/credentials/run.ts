import { CredentialName, createApiKey, createUserLine } from "../auth/credentials.js";
import { Role } from "../auth/principal.js";

/** What the command talks to; tests pass their own. */
export interface CredentialsIo {
  out(text: string): void;
  err(text: string): void;
  /** The whole of standard input (the password of `add-user`). */
  readStdin(): Promise<string>;
  /** Appends a line to the credentials file, when one is configured; resolves to its path. */
  append: ((line: string) => Promise<string>) | undefined;
  /** `init`: creates the first-start files (see prepareFirstStart); resolves to those it created. */
  prepareFirstStart(dir: string, secretsDir: string): Promise<string[]>;
}

const USAGE = `usage: credentials add-user <name> <producer|viewer|admin>   (password on stdin, 12+ characters)
       credentials add-key <name> <producer|viewer|admin>    (prints the new key once)
       credentials init <dir> <secrets-dir>                  (first start: signing key, admin, viewer, producer key)
The line for the credentials file is printed, and appended to GATEWAY_CREDENTIALS_FILE when it is set.`;

/** `init <dir> <secrets-dir>`: what docker-compose.yml's `gateway-init` runs on every start. */
const runInit = async (args: readonly string[], io: CredentialsIo): Promise<number> => {
  const [dir, secretsDir, ...rest] = args;
  if (dir === undefined || secretsDir === undefined || rest.length > 0) {
    io.err(USAGE);
    return 2;
  }
  try {
    const created = await io.prepareFirstStart(dir, secretsDir);
    io.err(
      created.length === 0
        ? "gateway-init: everything was there; nothing created"
        : `gateway-init: created ${created.join(", ")}`,
    );
    return 0;
  } catch (err) {
    io.err(`gateway-init: ${(err as Error).message}`);
    return 1;
  }
};

/** `credentials add-user|add-key <name> <role>` or `credentials init …`; resolves to the exit code (0 done, 1 failed, 2 usage). */
export const runCredentialsCli = async (argv: readonly string[], io: CredentialsIo): Promise<number> => {
  if (argv[0] === "init") return runInit(argv.slice(1), io);
  const [command, name, role, ...rest] = argv;
  const parsedName = CredentialName.safeParse(name);
  const parsedRole = Role.safeParse(role);
  if (
    (command !== "add-user" && command !== "add-key") ||
    !parsedName.success ||
    !parsedRole.success ||
    rest.length > 0
  ) {
    io.err(USAGE);
    return 2;
  }
  let line: string;
  if (command === "add-user") {
    const password = (await io.readStdin()).replace(/\r?\n$/, "");
    try {
      line = await createUserLine(parsedName.data, parsedRole.data, password);
    } catch (err) {
      io.err((err as Error).message);
      return 1;
    }
  } else {
    const created = createApiKey(parsedName.data, parsedRole.data);
    line = created.line;
    io.err("The API key (shown once; only its SHA-256 is kept):");
    io.out(created.key);
  }
  if (io.append === undefined) {
    io.err("Add this line to the credentials file:");
    io.out(line);
  } else {
    io.err(`Appended to ${await io.append(line)}`);
  }
  return 0;
};
