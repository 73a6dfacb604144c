/**
 * Least privilege in InfluxDB (issue 10, finding 6), on whichever InfluxDB the project runs:
 * 2.x (the compose deployment: write-only and read-only tokens, spoken to through the v1 API) in
 * the "integration" project, Debian's 1.6 (users with the WRITE and READ grants) in "influxdb-1".
 * The writer's credential must not delete, the reader's must not cause a write by any statement.
 *
 * In compose the writer holds no InfluxDB credential at all: it holds the influx-gate's token, and
 * only the gate holds the write token (SECURITY.md). So the writer's credential is tested through
 * the gate, and the write token itself directly, to record what the gate alone could do with it.
 */
import { randomBytes } from "node:crypto";
import { createInfluxClient, type InfluxClient, InfluxRejectedError, InfluxUnavailableError } from "@vigil/influx";
import { createInfluxGate, type InfluxGate } from "@vigil/influx-gate";
import { createLogSink, type Influxd, startInfluxd } from "@vigil/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const DATABASE = "least_privilege";
const POINTS = [
  'security_events,criticality=7 eventMessage="first",timestamp="2024-01-01T00:00:00Z",seq=1i 1704067200000000001',
  'security_events,criticality=8 eventMessage="second",timestamp="2024-01-01T00:00:01Z",seq=2i 1704067201000000002',
].join("\n");
/** InfluxDB 1.x lets a user with the WRITE grant delete (see SECURITY.md); 2.x does not. */
const ONE_X = process.env.VIGIL_INFLUXDB !== "2";

let influx: Influxd;
let admin: InfluxClient;
/** The gate in front of InfluxDB, holding the write token; the writer holds only {@link GATE_TOKEN}. */
let gate: InfluxGate;
let gateUrl: string;
const GATE_TOKEN = randomBytes(24).toString("hex");

const refused = async (attempt: Promise<unknown>): Promise<boolean> =>
  attempt.then(
    () => false,
    (err: unknown) => {
      if (err instanceof InfluxRejectedError || err instanceof InfluxUnavailableError) return true;
      throw err;
    },
  );

const stored = async (): Promise<string[]> => {
  const series = await admin.query('SELECT "eventMessage" FROM "security_events"');
  return (series[0]?.values ?? []).map((row) => String(row[1])).sort();
};

const measurements = async (): Promise<string[]> =>
  ((await admin.query("SHOW MEASUREMENTS"))[0]?.values ?? []).map((row) => String(row[0])).sort();

beforeAll(async () => {
  influx = await startInfluxd(DATABASE);
  admin = influx.client("admin");
  gate = createInfluxGate(
    { log: createLogSink("silent").log, storage: { record: () => {} } },
    influx.config("writer"),
    {
      host: "127.0.0.1",
      port: 0,
      token: GATE_TOKEN,
      rules: { database: DATABASE },
      maxBodyBytes: 1_048_576,
      requestTimeoutMs: 10_000,
      maxConcurrent: 4,
      upstreamConnections: 4,
      healthIntervalMs: 10_000,
    },
  );
  gateUrl = `http://127.0.0.1:${await gate.listen()}`;
});

// Each attempt starts from both points stored (rewriting them changes nothing when they are there).
beforeEach(async () => {
  await influx.client("writer").write(POINTS);
});

afterAll(async () => {
  await gate?.close();
  await influx?.dispose();
});

const statements = [
  'DELETE FROM "security_events"',
  'DELETE FROM "security_events" WHERE "criticality" = \'7\'',
  'DROP SERIES FROM "security_events"',
  "DROP SERIES WHERE \"criticality\" = '8'",
];

describe("the writer's credential: the gate's token, through the gate", () => {
  const writerClient = () =>
    createInfluxClient({
      url: gateUrl,
      database: DATABASE,
      auth: { kind: "token", token: GATE_TOKEN },
      timeoutMs: 10_000,
    });

  it("writes", async () => {
    await writerClient().write(
      'security_events,criticality=9 eventMessage="third",timestamp="2024-01-01T00:00:02Z",seq=3i 1704067202000000003',
    );
    expect(await stored()).toEqual(["first", "second", "third"]);
    await admin.query('DELETE FROM "security_events" WHERE "criticality" = \'9\'');
  });

  // On 1.x as well: the gate passes no statement at all, so the WRITE grant's deletes stay out of reach.
  it.each(statements)("cannot delete with %s", async (statement) => {
    const err = await writerClient()
      .query(statement)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ status: 403 });
    expect(await stored()).toEqual(["first", "second"]);
  });

  it("cannot delete through 2.x's /api/v2/delete, which the write token could", async () => {
    const response = await fetch(`${gateUrl}/api/v2/delete?org=vigil&bucket=${DATABASE}`, {
      method: "POST",
      headers: { authorization: `Token ${GATE_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ start: "2024-01-01T00:00:00Z", stop: "2024-01-01T00:00:00.5Z" }),
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
    expect(await stored()).toEqual(["first", "second"]);
  });
});

describe("the write token itself, which only the gate holds", () => {
  // On 1.x these are expected to succeed (it.fails): WRITE is enough to delete there.
  (ONE_X ? it.fails : it).each(statements)("cannot delete with %s", async (statement) => {
    expect(await refused(influx.client("writer").query(statement))).toBe(true);
    expect(await stored()).toEqual(["first", "second"]);
  });

  // InfluxDB 2.x asks for the bucket's write permission on its delete endpoint, and no token scope
  // writes without deleting: the write token deletes. This is why the writer does not hold it, and
  // why InfluxDB is on a network the writer is not on (SECURITY.md, "An intruder who took over the
  // writer"); whoever holds it (the gate, or someone who took the gate over) can delete.
  it.runIf(!ONE_X)("can delete through 2.x's /api/v2/delete: no token scope writes without deleting", async () => {
    const { auth } = influx.config("writer");
    if (auth.kind !== "token") throw new Error("expected a 2.x token");
    const response = await fetch(`${influx.url}/api/v2/delete?org=vigil&bucket=${DATABASE}`, {
      method: "POST",
      headers: { authorization: `Token ${auth.token}`, "content-type": "application/json" },
      body: JSON.stringify({ start: "2024-01-01T00:00:00Z", stop: "2024-01-01T00:00:00.5Z" }),
    });
    expect(response.status).toBe(204);
    expect(await stored()).toEqual(["second"]);
  });
});

describe("the reader's credential cannot cause a write", () => {
  it.each([
    'SELECT * INTO "copied" FROM "security_events"',
    'SELECT "eventMessage" INTO "security_events" FROM "security_events"',
    `SELECT * INTO "${DATABASE}"."autogen"."copied" FROM "security_events"`,
  ])("%s is refused and nothing is written", async (statement) => {
    expect(await refused(influx.client("reader").query(statement))).toBe(true);
    expect(await measurements()).toEqual(["security_events"]);
  });

  // On 1.x (1.6) a user with only the READ grant may create a continuous query on its database
  // (it.fails): what stops it from writing there is the CQ service being off (SECURITY.md).
  (ONE_X ? it.fails : it)("a continuous query on the database is refused", async () => {
    const statement = `CREATE CONTINUOUS QUERY "cq" ON "${DATABASE}" BEGIN SELECT count("eventMessage") INTO "counted" FROM "security_events" GROUP BY time(1m) END`;
    expect(await refused(influx.client("reader").query(statement))).toBe(true);
  });

  it("a continuous query that names no database is refused", async () => {
    const statement =
      'CREATE CONTINUOUS QUERY "cq2" BEGIN SELECT count("eventMessage") INTO "security_events" FROM "security_events" GROUP BY time(1m) END';
    expect(await refused(influx.client("reader").query(statement))).toBe(true);
  });
});
