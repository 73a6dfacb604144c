import { createRequire } from "node:module";
import type * as PromClient from "../../../packages/runtime/node_modules/prom-client/index.js";

// prom-client is a dependency of @vigil/runtime (whose registry the daemon fills) but is not
// declared by @vigil/daemon, and dependencies may not be added from here: load the very copy
// that @vigil/runtime uses, so that metrics and registry are the same classes. Replace with a
// plain import once the dependency is declared.
const requireFromRuntime = createRequire(createRequire(import.meta.url).resolve("@vigil/runtime"));
const promClient = requireFromRuntime("prom-client") as typeof PromClient;

export const { Counter, Gauge, Histogram } = promClient;
export type Registry = PromClient.Registry;
