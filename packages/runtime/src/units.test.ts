import { describe, expect, it } from "vitest";
import { z } from "zod";
import { bytesVar, durationVar, parseBytes, parseDuration } from "./units.js";

describe("parseDuration", () => {
  it.each([
    ["250ms", 250],
    ["30s", 30_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["1.5s", 1_500],
    [" 10s ", 10_000],
    ["0ms", 0],
  ])("reads %j as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "10", "s", "-1s", "1w", "1 s", "1e3ms", "10S", "1s2"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("parseBytes", () => {
  it.each([
    ["4096", 4_096],
    ["4096b", 4_096],
    ["1KB", 1_000],
    ["1kb", 1_000],
    ["512KiB", 524_288],
    ["64MiB", 67_108_864],
    ["1GB", 1_000_000_000],
    ["1GiB", 1_073_741_824],
    ["1.5KiB", 1_536],
    ["8 KiB", 8_192],
  ])("reads %j as %i bytes", (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });

  it.each(["", "KiB", "-1", "1TB", "1 k", "ten"])("refuses %j", (text) => {
    expect(parseBytes(text)).toBeUndefined();
  });
});

describe("durationVar and bytesVar", () => {
  const Env = z.object({ WAIT: durationVar("5s", 100, 60_000), SIZE: bytesVar("1KiB", 256, 1_048_576) });

  it("apply the default when the variable is unset", () => {
    expect(Env.parse({})).toEqual({ WAIT: 5_000, SIZE: 1_024 });
  });

  it("accept values at both bounds", () => {
    expect(Env.parse({ WAIT: "100ms", SIZE: "1MiB" })).toEqual({ WAIT: 100, SIZE: 1_048_576 });
    expect(Env.parse({ WAIT: "1m", SIZE: "256" })).toEqual({ WAIT: 60_000, SIZE: 256 });
  });

  it("refuse values out of bounds or malformed, saying what is expected", () => {
    const result = Env.safeParse({ WAIT: "99ms", SIZE: "2MiB" });
    expect(result.success).toBe(false);
    const messages = result.error?.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    expect(messages).toEqual([
      'WAIT: expected a duration from 100ms to 60000ms such as 500ms, 30s, 5m, 2h or 7d, got "99ms"',
      'SIZE: expected a size from 256 to 1048576 bytes such as 4096, 512KiB or 1GiB, got "2MiB"',
    ]);
    expect(Env.safeParse({ WAIT: "soon" }).success).toBe(false);
  });
});
