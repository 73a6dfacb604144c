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
    await expect(influx.client("writer").query('SELECT * FROM "probe"')).rejects.toThrow(/not authorized/);
    await expect(influx.client("reader").write("probe,k=v f=2i 2000000000")).rejects.toThrow(/403|not authorized/);
    await expect(influx.client("reader").query('DROP MEASUREMENT "probe"')).rejects.toThrow(/not authorized/);
  });
});
