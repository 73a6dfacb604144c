import { jetstreamManager } from "@nats-io/jetstream";
import { connectNats, createLogger, failStartup, loadConfigOrExit } from "@vigil/runtime";
import { loadSetupConfig } from "./config.js";
import { setUpTopology } from "./set-up.js";

// The one-shot set-up of the NATS topology (docker-compose.yml's `nats-setup`): the only program
// that holds a credential able to create and correct the streams and the consumer, so that none
// of the long-running services needs one (SECURITY.md).
const SERVICE = "vigil-setup";
const config = loadConfigOrExit(SERVICE, () => loadSetupConfig());
const log = createLogger(SERVICE, config.logLevel);

try {
  const nc = await connectNats(config.nats, SERVICE, log.child({ module: "nats" }));
  try {
    await setUpTopology(await jetstreamManager(nc, { checkAPI: false }), config, log.child({ module: "topology" }));
  } finally {
    await nc.close();
  }
  log.info("topology is as the contract says");
} catch (err) {
  failStartup(log, err);
}
