import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Influxd, startInfluxd } from "./influxd.js";
import { type NatsServer, startNatsServer } from "./nats-server.js";

describe("test harness", () => {
  let nats: NatsServer;
  let influx: Influxd;
  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsServer(), startInfluxd("harness")]);
  });
  afterAll(async () => {
    await Promise.all([nats?.dispose(), influx?.dispose()]);
  });

  it("starts a nats-server with JetStream enabled", async () => {
    const nc = await connect({ servers: nats.url });
    expect(nc.info?.jetstream).toBe(true);
    await nc.close();
  });

  it("gives the writer write-only and the reader read-only access", async () => {
    await influx.client("writer").write("probe,k=v f=1i 1000000000");
    const rows = await influx.client("reader").query('SELECT * FROM "probe"');
    expect(rows[0]?.values).toHaveLength(1);
    // 1.x names the missing privilege; a 2.x token that may not read a bucket does not see it at all.
    const denied = influx.flavour === "2.x" ? /database not found|insufficient permissions/ : /not authorized/;
    await expect(influx.client("writer").query('SELECT * FROM "probe"')).rejects.toThrow(denied);
    await expect(influx.client("reader").write("probe,k=v f=2i 2000000000")).rejects.toThrow(/403/);
    await expect(influx.client("reader").query('DROP MEASUREMENT "probe"')).rejects.toThrow(denied);
    expect((await influx.client("reader").query('SELECT * FROM "probe"'))[0]?.values).toHaveLength(1);
  });
});
