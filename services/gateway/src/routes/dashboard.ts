import { readdirSync, readFileSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyReply } from "fastify";
import { z } from "zod";
import type { GatewayApp } from "../app.js";

/**
 * The page's own content security policy, instead of the API's `default-src 'none'`: its scripts,
 * its styles and the API of its own origin (HTTP and the live tail's WebSocket), nothing else.
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** One file of the page, read once. */
interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/** The page and the files it loads, by name (`main.js`, `styles.css`). */
export interface DashboardAssets {
  readonly index: Asset;
  readonly files: ReadonlyMap<string, Asset>;
}

const readAssets = (dir: URL, files: Map<string, Asset>) => {
  const path = fileURLToPath(dir);
  for (const name of readdirSync(path)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type !== undefined) files.set(name, { body: readFileSync(`${path}${name}`), type });
  }
};

/**
 * Reads the dashboard at start: `index.html` and its styles from `staticDir`
 * (services/gateway/dashboard/static), its compiled scripts from `scriptsDir` (dist/dashboard).
 * Nothing comes from elsewhere: no CDN, no web font.
 */
export const loadDashboardAssets = (staticDir: URL, scriptsDir: URL): DashboardAssets => {
  const files = new Map<string, Asset>();
  readAssets(staticDir, files);
  readAssets(scriptsDir, files);
  const index = files.get("index.html");
  if (index === undefined) throw new Error(`no index.html in ${fileURLToPath(staticDir)}`);
  files.delete("index.html");
  return { index, files };
};

/** `GET /` (the dashboard page) and `GET /dashboard/<file>` (what it loads), open to anyone. */
export const dashboardRoutes =
  (assets: DashboardAssets) =>
  async (app: GatewayApp): Promise<void> => {
    const send = (asset: Asset, reply: FastifyReply) =>
      reply
        .header("content-security-policy", DASHBOARD_CSP)
        // Revalidated on each load, so a new gateway version's page is never mixed with old scripts.
        .header("cache-control", "no-cache")
        .type(asset.type)
        .send(asset.body);
    app.get("/", { config: { access: "none" }, schema: { hide: true } }, (_request, reply) =>
      send(assets.index, reply),
    );
    app.get(
      "/dashboard/:file",
      { config: { access: "none" }, schema: { hide: true, params: z.object({ file: z.string().max(64) }) } },
      (request, reply) => {
        const asset = assets.files.get(request.params.file);
        if (asset === undefined) {
          return reply.code(404).send({
            error: { code: "NOT_FOUND", message: `no dashboard file ${request.params.file}`, requestId: request.id },
          });
        }
        return send(asset, reply);
      },
    );
  };
