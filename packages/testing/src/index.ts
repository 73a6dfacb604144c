export type { Influxd, InfluxRole } from "./influxd.js";
export { startInfluxd } from "./influxd.js";
export type { NatsServer, NatsServerOptions } from "./nats-server.js";
export { startNatsServer } from "./nats-server.js";
export type { ManagedProcess } from "./process.js";
export { freePort, spawnManaged, WaitAbortedError, waitFor } from "./process.js";
export type { RunningService, StartServiceOptions } from "./services.js";
export { serviceEnv, startService } from "./services.js";
export { readStreamPayloads } from "./streams.js";
