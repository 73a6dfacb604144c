import { describe, expect, it } from "vitest";
import { USAGE } from "./arguments.js";
import { EXIT_CODES, readInvocation } from "./run.js";

const capturedIo = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (text: string) => out.push(text), err: (text: string) => err.push(text) } };
};

describe("readInvocation", () => {
  it("prints the usage for help and exits 0 without reading the environment", () => {
    const { out, err, io } = capturedIo();
    expect(readInvocation(["--help"], io, { DEADLETTERS_TIMEOUT: "nonsense" })).toBe(EXIT_CODES.ok);
    expect(out).toEqual([USAGE]);
    expect(err).toEqual([]);
  });

  it("exits with the usage code and one line naming the program for a wrong command line", () => {
    const { out, err, io } = capturedIo();
    expect(readInvocation(["list", "--limit", "0"], io, {})).toBe(EXIT_CODES.usage);
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^vigil-deadletters: --limit: /);
  });

  it("exits with the usage code for a wrong environment", () => {
    const { err, io } = capturedIo();
    expect(readInvocation(["list"], io, { DEADLETTERS_TIMEOUT: "nonsense" })).toBe(EXIT_CODES.usage);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^vigil-deadletters: .*DEADLETTERS_TIMEOUT/);
  });

  it("returns the command and the configuration to run", () => {
    const { out, err, io } = capturedIo();
    const invocation = readInvocation(["replay", "--all", "--keep"], io, { DEADLETTERS_TIMEOUT: "2s" });
    expect(invocation).toMatchObject({
      command: { kind: "replay", selection: { kind: "all" }, keep: true, force: false },
      config: { timeoutMs: 2_000 },
    });
    expect([...out, ...err]).toEqual([]);
  });
});
