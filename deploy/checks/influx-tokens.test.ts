import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROOT } from "./deployment-files.js";

// deploy/influxdb/init/10-vigil-tokens.sh runs inside the influxdb 2.x image, whose `influx` CLI is
// not available here. A stand-in CLI answers `influx auth create` the way 2.x does (JSON with a
// `token` field), with a token that says which permission it was asked for, so the test sees which
// service gets which permission and how the files are written.

const SCRIPT = `${ROOT}deploy/influxdb/init/10-vigil-tokens.sh`;

const FAKE_INFLUX = `#!/bin/sh
printf '%s\\n' "$*" >>"$CALLS"
[ "$FAIL" = yes ] && exit 0
kind=unknown bucket=
while [ $# -gt 0 ]; do
  case "$1" in
    --write-bucket) kind=write bucket=$2 ;;
    --read-bucket) kind=read bucket=$2 ;;
  esac
  shift
done
printf '{\\n\\t"id": "0a1b",\\n\\t"description": "x",\\n\\t"token": "%s-%s-token==",\\n\\t"status": "active"\\n}\\n' "$kind" "$bucket"
`;

let dir: string;

const run = (extraEnv: Record<string, string>) =>
  spawnSync("sh", [SCRIPT], {
    encoding: "utf8",
    env: {
      PATH: `${dir}/bin:${process.env.PATH ?? ""}`,
      CALLS: `${dir}/calls`,
      DOCKER_INFLUXDB_INIT_ORG_ID: "org42",
      DOCKER_INFLUXDB_INIT_BUCKET_ID: "bucket7",
      DOCKER_INFLUXDB_INIT_BUCKET: "vigil",
      VIGIL_WRITER_TOKEN_FILE: `${dir}/writer/influx-token`,
      VIGIL_READER_TOKEN_FILE: `${dir}/reader/influx-token`,
      ...extraEnv,
    },
  });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vigil-influx-tokens-"));
  for (const sub of ["bin", "writer", "reader"]) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, "bin/influx"), FAKE_INFLUX);
  chmodSync(join(dir, "bin/influx"), 0o755);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("deploy/influxdb/init/10-vigil-tokens.sh", () => {
  it("gives the writer a write-only and the reader a read-only token on the bucket", () => {
    const result = run({});
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(`${dir}/writer/influx-token`, "utf8")).toBe("write-bucket7-token==");
    expect(readFileSync(`${dir}/reader/influx-token`, "utf8")).toBe("read-bucket7-token==");
    const calls = readFileSync(`${dir}/calls`, "utf8").trim().split("\n");
    expect(calls).toHaveLength(2);
    for (const call of calls) expect(call).toMatch(/^auth create --org-id org42 /);
  });

  it("leaves the token files readable by their owner only", () => {
    expect(run({}).status).toBe(0);
    expect(statSync(`${dir}/writer/influx-token`).mode & 0o777).toBe(0o600);
    expect(statSync(`${dir}/reader/influx-token`).mode & 0o777).toBe(0o600);
  });

  it("replaces tokens of an earlier, failed initialisation", () => {
    writeFileSync(`${dir}/writer/influx-token`, "stale");
    chmodSync(`${dir}/writer/influx-token`, 0o400);
    expect(run({}).status).toBe(0);
    expect(readFileSync(`${dir}/writer/influx-token`, "utf8")).toBe("write-bucket7-token==");
  });

  it("fails, writing nothing, when the CLI returns no token", () => {
    const result = run({ FAIL: "yes" });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("returned no token");
    expect(existsSync(`${dir}/writer/influx-token`)).toBe(false);
  });

  it("fails when the image did not export the IDs of the organisation and bucket", () => {
    const result = run({ DOCKER_INFLUXDB_INIT_BUCKET_ID: "" });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("DOCKER_INFLUXDB_INIT_BUCKET_ID");
  });
});
