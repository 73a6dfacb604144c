import { ConfigError, UsageError } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { type ClientSettings, loadSettings, parseArguments } from "./config.js";

const settingsOf = (argv: string[], env: NodeJS.ProcessEnv): ClientSettings => {
  const invocation = loadSettings(argv, env);
  if (invocation.help) throw new Error("expected settings, got --help");
  return invocation.settings;
};

describe("parseArguments", () => {
  it("reads every flag, as `--flag value` or `--flag=value`", () => {
    expect(parseArguments(["--json", "--every", "5s", "--min-criticality=-1", "--limit", "20"])).toEqual({
      json: true,
      every: "5s",
      minCriticality: "-1",
      limit: "20",
    });
    expect(parseArguments(["--help"])).toEqual({ help: true });
    expect(parseArguments(["-h"])).toEqual({ help: true });
    expect(parseArguments([])).toEqual({});
  });

  it("takes a negative number as the value of the flag before it", () => {
    expect(parseArguments(["--min-criticality", "-3"])).toEqual({ minCriticality: "-3" });
  });

  it.each([
    [["--verbose"], /unknown flag --verbose/],
    [["--limit"], /--limit needs a value/],
    [["--json=yes"], /--json takes no value/],
    [["extra"], /unexpected argument "extra"/],
  ])("refuses %j with a UsageError naming it", (argv, message) => {
    expect(() => parseArguments(argv)).toThrow(UsageError);
    expect(() => parseArguments(argv)).toThrow(message);
  });
});

describe("loadSettings", () => {
  it("applies the defaults", () => {
    expect(settingsOf([], { CLIENT_MIN_CRITICALITY: "5" })).toEqual({
      nats: expect.objectContaining({ NATS_URL: ["nats://127.0.0.1:4222"] }),
      query: { minCriticality: 5, limit: 10 },
      timeoutMs: 10_000,
      repeatMs: 0,
      output: "table",
      colorAllowed: true,
    });
  });

  it("reads every variable", () => {
    const settings = settingsOf([], {
      CLIENT_MIN_CRITICALITY: "-2",
      CLIENT_LIMIT: "1000",
      CLIENT_TIMEOUT: "3s",
      CLIENT_REPEAT: "1m",
      CLIENT_OUTPUT: "json",
      NO_COLOR: "1",
      NATS_URL: "nats://a:1,nats://b:2",
    });
    expect(settings).toMatchObject({
      query: { minCriticality: -2, limit: 1000 },
      timeoutMs: 3_000,
      repeatMs: 60_000,
      output: "json",
      colorAllowed: false,
      nats: { NATS_URL: ["nats://a:1", "nats://b:2"] },
    });
  });

  it("lets flags win over variables, even over a bad variable", () => {
    const settings = settingsOf(["--min-criticality", "7", "--limit=3", "--every", "250ms", "--json"], {
      CLIENT_MIN_CRITICALITY: "not a number",
      CLIENT_LIMIT: "5",
      CLIENT_REPEAT: "0",
      CLIENT_OUTPUT: "table",
    });
    expect(settings).toMatchObject({ query: { minCriticality: 7, limit: 3 }, repeatMs: 250, output: "json" });
  });

  it("treats CLIENT_REPEAT=0 and --every 0 as asking once", () => {
    expect(settingsOf([], { CLIENT_MIN_CRITICALITY: "1", CLIENT_REPEAT: "0" }).repeatMs).toBe(0);
    expect(settingsOf(["--every", "0"], { CLIENT_MIN_CRITICALITY: "1", CLIENT_REPEAT: "5s" }).repeatMs).toBe(0);
  });

  it("returns help without looking at the environment", () => {
    expect(loadSettings(["--help"], { CLIENT_LIMIT: "nonsense" })).toEqual({ help: true });
  });

  it("requires a threshold, naming the variable and the flag", () => {
    expect(() => loadSettings([], {})).toThrow(/CLIENT_MIN_CRITICALITY is not set.*--min-criticality/);
    expect(() => loadSettings([], { CLIENT_MIN_CRITICALITY: "" })).toThrow(/CLIENT_MIN_CRITICALITY is not set/);
  });

  it.each([
    [{ CLIENT_MIN_CRITICALITY: "high" }, /CLIENT_MIN_CRITICALITY: expected an integer such as 5, got "high"/],
    [{ CLIENT_MIN_CRITICALITY: "5.5" }, /CLIENT_MIN_CRITICALITY/],
    [{ CLIENT_MIN_CRITICALITY: "5 OR 1=1" }, /CLIENT_MIN_CRITICALITY/],
    [{ CLIENT_MIN_CRITICALITY: "5", CLIENT_LIMIT: "0" }, /CLIENT_LIMIT: expected an integer from 1 to 1000, got "0"/],
    [{ CLIENT_MIN_CRITICALITY: "5", CLIENT_LIMIT: "1001" }, /CLIENT_LIMIT/],
    [{ CLIENT_MIN_CRITICALITY: "5", CLIENT_TIMEOUT: "soon" }, /CLIENT_TIMEOUT/],
    [{ CLIENT_MIN_CRITICALITY: "5", CLIENT_REPEAT: "5" }, /CLIENT_REPEAT: expected 0 \(run once\) or a duration/],
    [{ CLIENT_MIN_CRITICALITY: "5", CLIENT_OUTPUT: "yaml" }, /CLIENT_OUTPUT/],
    [{ CLIENT_MIN_CRITICALITY: "5", NATS_URL: "http://x" }, /NATS_URL/],
  ])("refuses %j with a ConfigError naming the variable", (env, message) => {
    expect(() => loadSettings([], env)).toThrow(ConfigError);
    expect(() => loadSettings([], env)).toThrow(message);
  });

  it.each([
    [["--min-criticality", "x"], /--min-criticality: expected an integer/],
    [["--min-criticality", "1", "--limit", "0"], /--limit: expected an integer from 1 to 1000, got "0"/],
    [["--min-criticality", "1", "--every", "fast"], /--every: expected 0 \(run once\) or a duration/],
    [["--min-criticality", "1", "--every", "10ms"], /--every/],
  ])("refuses %j with a UsageError naming the flag", (argv, message) => {
    expect(() => loadSettings(argv, {})).toThrow(UsageError);
    expect(() => loadSettings(argv, {})).toThrow(message);
  });
});
