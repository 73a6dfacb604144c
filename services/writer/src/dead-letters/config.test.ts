import { ConfigError } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";

describe("loadConfig", () => {
  it("applies the defaults", () => {
    expect(loadConfig({})).toEqual({
      nats: expect.objectContaining({ NATS_URL: ["nats://127.0.0.1:4222"] }),
      timeoutMs: 10_000,
      maxEventBytes: 8_192,
    });
  });

  it("reads its variables and the shared NATS ones", () => {
    expect(
      loadConfig({
        NATS_URL: "nats://a:1,nats://b:2",
        NATS_USER: "ops",
        NATS_PASSWORD: "secret",
        DEADLETTERS_TIMEOUT: "2s",
        WRITER_MAX_EVENT_BYTES: "64KiB",
      }),
    ).toEqual({
      nats: expect.objectContaining({ NATS_URL: ["nats://a:1", "nats://b:2"], NATS_USER: "ops" }),
      timeoutMs: 2_000,
      maxEventBytes: 65_536,
    });
  });

  it("names every bad variable in one ConfigError", () => {
    const load = () => loadConfig({ DEADLETTERS_TIMEOUT: "soon", WRITER_MAX_EVENT_BYTES: "1", NATS_USER: "x" });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/DEADLETTERS_TIMEOUT.*WRITER_MAX_EVENT_BYTES|WRITER_MAX_EVENT_BYTES.*DEADLETTERS_TIMEOUT/);
    expect(load).toThrow(/NATS_PASSWORD/);
  });
});
