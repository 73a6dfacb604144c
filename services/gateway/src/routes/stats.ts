import type { GatewayApp } from "../app.js";
import { type PipelineStats, StatsReply } from "../pipeline-stats.js";

/** `GET /v1/stats`: the pipeline's figures from JetStream. */
export const statsRoutes =
  (stats: PipelineStats) =>
  async (app: GatewayApp): Promise<void> => {
    app.get(
      "/v1/stats",
      { config: { access: "viewer", action: "stats.read" }, schema: { response: { 200: StatsReply } } },
      () => stats.read(),
    );
  };
