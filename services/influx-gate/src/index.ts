export type { GateSettings, InfluxGateConfig } from "./config.js";
export { INFLUX_GATE_SERVICE, InfluxGateEnv, loadConfig } from "./config.js";
export type { InfluxGate, InfluxGateDeps, StorageRecord } from "./gate.js";
export { createInfluxGate } from "./gate.js";
export type { GateMetrics, GateOutcome, GateRouteLabel } from "./metrics.js";
export { createGateMetrics } from "./metrics.js";
export type { BodyHeaders, GateRoute, GateRules, Refusal, RefusalCode } from "./request-filter.js";
export { checkBody, createCredentialCheck, OVERLOADED, routeRequest, UNAUTHENTICATED } from "./request-filter.js";
