import type { GatewaySettings } from "./config.js";

/**
 * Gateway settings for tests, each test overriding what it is about. Not part of the build
 * (tsconfig.json excludes *.fixture.ts), so nothing of it reaches the image.
 */
export const testSettings = (overrides: Partial<GatewaySettings> = {}): GatewaySettings => ({
  corsOrigins: [],
  bodyLimit: 1_048_576,
  maxJsonDepth: 16,
  requestTimeoutMs: 10_000,
  publishTimeoutMs: 2_000,
  accessTokenTtlMs: 60_000,
  refreshTokenTtlMs: 3_600_000,
  ...overrides,
});
