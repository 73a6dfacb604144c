/**
 * What the InfluxDB credentials of the writer and the reader can and cannot do, against a real
 * InfluxDB 1.x with authentication on, whose `writer` user has WRITE only and `reader` user READ
 * only on the events database (the roles @vigil/testing creates, as `pnpm demo` does). The 2.x
 * deployment gives the same split with a write-only and a read-only token
 * (deploy/influxdb/init/10-vigil-tokens.sh), which only the GitHub workflow can run.
 */
import { type InfluxClient, InfluxRejectedError, InfluxUnavailableError } from "@vigil/influx";
import { type Influxd, startInfluxd } from "@vigil/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DATABASE = "security";
const POINT =
  'security_events,criticality=7 eventMessage="probe",timestamp="2024-01-01T00:00:00Z",seq=1i 1704067200000000001';

let influx: Influxd;
let admin: InfluxClient;

/** What InfluxDB said when it refused `attempt`: its HTTP status and message. */
const refusal = async (attempt: Promise<unknown>): Promise<{ status: number | undefined; message: string }> => {
  try {
    await attempt;
  } catch (err) {
    if (err instanceof InfluxRejectedError || err instanceof InfluxUnavailableError) {
      return { status: err.status, message: err.message };
    }
    throw err;
  }
  throw new Error("InfluxDB accepted what it should have refused");
};

const countPoints = async (): Promise<number> => {
  const series = await admin.query('SELECT count("eventMessage") FROM "security_events"');
  return Number(series[0]?.values[0]?.[1] ?? 0);
};

const userNames = async (): Promise<unknown[]> =>
  ((await admin.query("SHOW USERS"))[0]?.values ?? []).map((row) => row[0]);

beforeAll(async () => {
  influx = await startInfluxd(DATABASE);
  admin = influx.client("admin");
  await influx.client("writer").write(POINT);
});

afterAll(async () => {
  await influx?.dispose();
});

describe("the writer's credentials", () => {
  it("write points", async () => {
    expect(await countPoints()).toBe(1);
  });

  it("cannot read them back", async () => {
    const refused = await refusal(influx.client("writer").query('SELECT * FROM "security_events"'));
    expect(refused.status).toBe(403);
    expect(refused.message).toMatch(/not authorized/);
  });

  it("cannot drop the measurement or the database", async () => {
    const writer = influx.client("writer");
    for (const statement of ['DROP MEASUREMENT "security_events"', `DROP DATABASE "${DATABASE}"`]) {
      expect((await refusal(writer.query(statement))).status).toBe(403);
    }
    expect(await countPoints()).toBe(1);
  });
});

describe("the reader's credentials", () => {
  it("read points", async () => {
    const series = await influx.client("reader").query('SELECT "eventMessage" FROM "security_events"');
    expect(series[0]?.values[0]?.[1]).toBe("probe");
  });

  it("cannot write", async () => {
    const refused = await refusal(influx.client("reader").write(POINT.replace("probe", "forged")));
    expect(refused.status).toBe(403);
    const series = await admin.query('SELECT "eventMessage" FROM "security_events"');
    expect(series[0]?.values.map((row) => row[1])).toEqual(["probe"]);
  });

  it.each([
    'DROP MEASUREMENT "security_events"',
    `DROP DATABASE "${DATABASE}"`,
    'DELETE FROM "security_events"',
    "CREATE DATABASE intruder",
    "CREATE USER intruder WITH PASSWORD 'intruder' WITH ALL PRIVILEGES",
    'GRANT ALL PRIVILEGES TO "reader"',
    "SET PASSWORD FOR \"admin\" = 'taken'",
  ])("cannot run the admin statement %s", async (statement) => {
    expect((await refusal(influx.client("reader").query(statement))).status).toBe(403);
  });

  it("left the data, the users and the databases as they were", async () => {
    expect(await countPoints()).toBe(1);
    expect((await userNames()).sort()).toEqual(["admin", "reader", "writer"]);
    const databases = ((await admin.query("SHOW DATABASES"))[0]?.values ?? []).map((row) => row[0]);
    expect(databases).not.toContain("intruder");
  });
});

describe("requests without valid credentials", () => {
  const anonymous = (path: string, init?: RequestInit) => fetch(`${influx.url}${path}`, init);

  it("cannot query", async () => {
    const response = await anonymous(
      `/query?db=${DATABASE}&q=${encodeURIComponent('SELECT * FROM "security_events"')}`,
    );
    expect(response.status).toBe(401);
  });

  it("cannot write", async () => {
    const response = await anonymous(`/write?db=${DATABASE}`, { method: "POST", body: POINT });
    expect(response.status).toBe(401);
    expect(await countPoints()).toBe(1);
  });

  it("cannot create a user, now that an admin exists", async () => {
    const response = await anonymous(
      `/query?q=${encodeURIComponent("CREATE USER intruder WITH PASSWORD 'x' WITH ALL PRIVILEGES")}`,
      { method: "POST" },
    );
    expect(response.status).toBe(401);
    expect(await userNames()).not.toContain("intruder");
  });

  it("are refused with a wrong password", async () => {
    const config = influx.config("reader");
    const auth = config.auth.kind === "basic" ? config.auth : undefined;
    const response = await anonymous(`/query?db=${DATABASE}&q=${encodeURIComponent("SHOW MEASUREMENTS")}`, {
      headers: { authorization: `Basic ${Buffer.from(`${auth?.username}:${auth?.password}x`).toString("base64")}` },
    });
    expect(response.status).toBe(401);
  });
});
