import { describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal.js";
import { LIVE_CLOSE } from "./frames.js";
import { createLiveSession } from "./live-session.js";
import { fakeSocket } from "./live-socket.fixture.js";
import { checkSessions } from "./session-checks.js";

const open = (principal: Principal) => {
  const client = fakeSocket();
  return {
    ...client,
    session: createLiveSession({
      socket: client.socket,
      principal,
      minCriticality: undefined,
      maxBufferedBytes: 65_536,
    }),
  };
};

describe("checkSessions", () => {
  it("ends sessions whose caller lost its role or signed out, looking each family up once", async () => {
    const kept = open({ name: "vic", role: "viewer", via: "token", family: "a" });
    const sameFamily = open({ name: "vic", role: "viewer", via: "token", family: "a" });
    const signedOut = open({ name: "ann", role: "viewer", via: "token", family: "b" });
    const demoted = open({ name: "bob", role: "viewer", via: "token", family: "c" });
    const apiKey = open({ name: "key", role: "viewer", via: "apiKey" });
    const asked: string[] = [];
    await checkSessions(
      [kept, sameFamily, signedOut, demoted, apiKey].map((client) => client.session),
      {
        isRevoked: async (family) => {
          asked.push(family);
          return family === "b";
        },
        isCurrent: (principal) => principal.name !== "bob",
      },
      () => {},
    );
    expect(signedOut.closes).toEqual([LIVE_CLOSE.SESSION_REVOKED]);
    expect(demoted.closes).toEqual([LIVE_CLOSE.ROLE_CHANGED]);
    for (const client of [kept, sameFamily, apiKey]) expect(client.closes).toEqual([]);
    expect(asked.sort()).toEqual(["a", "b"]);
  });

  it("leaves a session open when its family cannot be read, and says why", async () => {
    const client = open({ name: "vic", role: "viewer", via: "token", family: "a" });
    const errors: unknown[] = [];
    await checkSessions(
      [client.session],
      { isRevoked: () => Promise.reject(new Error("no NATS")), isCurrent: () => true },
      (err) => errors.push(err),
    );
    expect(client.closes).toEqual([]);
    expect(errors).toHaveLength(1);
  });
});
