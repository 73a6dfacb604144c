import { describe, expect, it } from "vitest";
import { parseCredentials } from "../auth/credentials.js";
import { runCredentialsCli } from "./run.js";

const io = (stdin = "") => {
  const out: string[] = [];
  const err: string[] = [];
  const appended: string[] = [];
  return {
    out,
    err,
    appended,
    io: {
      out: (t: string) => void out.push(t),
      err: (t: string) => void err.push(t),
      readStdin: async () => stdin,
      append: async (line: string) => {
        appended.push(line);
        return "/tmp/credentials";
      },
      prepareFirstStart: async () => [],
    },
  };
};

describe("credentials command", () => {
  it("adds a user whose password then signs in, and never prints the password", async () => {
    const run = io("a long enough password\n");
    expect(await runCredentialsCli(["add-user", "alice", "admin"], run.io)).toBe(0);
    const credentials = await parseCredentials(run.appended.join("\n"));
    expect(await credentials.signIn("alice", "a long enough password")).toEqual({
      name: "alice",
      role: "admin",
      via: "token",
    });
    expect(await credentials.signIn("alice", "wrong")).toBeUndefined();
    expect([...run.out, ...run.err, ...run.appended].join("\n")).not.toContain("a long enough password");
  });

  it("adds an API key, printed once, of which only the digest is kept", async () => {
    const run = io();
    expect(await runCredentialsCli(["add-key", "ingest", "producer"], { ...run.io, append: undefined })).toBe(0);
    const [key, line] = run.out as [string, string];
    expect(line).not.toContain(key);
    expect((await parseCredentials(line)).findApiKey(key)).toEqual({ name: "ingest", role: "producer", via: "apiKey" });
  });

  it("refuses a bad command, role, name or short password", async () => {
    expect(await runCredentialsCli(["add-user", "x", "root"], io().io)).toBe(2);
    expect(await runCredentialsCli(["del-user", "x", "admin"], io().io)).toBe(2);
    expect(await runCredentialsCli(["add-key", "bad name", "admin"], io().io)).toBe(2);
    expect(await runCredentialsCli(["add-user", "bob", "viewer"], io("short\n").io)).toBe(1);
  });

  it("refuses a malformed credentials file, naming the line", async () => {
    await expect(parseCredentials("# ok\nuser alice admin plaintext\n")).rejects.toThrow(/line 2/);
  });
});
