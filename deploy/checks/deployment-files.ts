import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Reads a file of the repository as text. */
export const readRepoFile = (path: string): string => readFileSync(`${ROOT}${path}`, "utf8");

/** The parts of a compose service these checks look at. */
export interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context?: string; readonly dockerfile?: string; readonly args?: Record<string, string> };
  readonly pull_policy?: string;
  readonly user?: string;
  readonly read_only?: boolean;
  readonly cap_drop?: readonly string[];
  readonly cap_add?: readonly string[];
  readonly security_opt?: readonly string[];
  readonly network_mode?: string;
  readonly networks?: readonly string[] | Record<string, unknown>;
  readonly restart?: string;
  readonly ports?: readonly string[];
  readonly expose?: readonly string[];
  readonly pids_limit?: number;
  readonly deploy?: {
    readonly resources?: {
      readonly limits?: { readonly cpus?: string; readonly memory?: string; readonly pids?: number };
    };
  };
  readonly healthcheck?: { readonly test?: readonly string[]; readonly disable?: boolean };
  readonly depends_on?: Record<string, { readonly condition?: string }>;
  readonly environment?: Record<string, string | number | boolean | null>;
  readonly volumes?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly command?: readonly string[];
}

/** A compose file after YAML merge keys are resolved; `${...}` references are left as written. */
export interface ComposeFile {
  readonly services: Record<string, ComposeService>;
  readonly networks?: Record<
    string,
    { readonly internal?: boolean; readonly driver_opts?: Record<string, string> } | null
  >;
  readonly volumes?: Record<string, unknown>;
}

/** Parses a compose file of the repository, resolving `<<` merge keys as compose does. */
export const readCompose = (path: string): ComposeFile => {
  const document = parseDocument(readRepoFile(path), { merge: true });
  if (document.errors.length > 0) throw new Error(`${path}: ${document.errors.map((e) => e.message).join("; ")}`);
  return document.toJS() as ComposeFile;
};

const REFERENCE = /\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g;

/** The names of every `${NAME}` / `${NAME:-default}` reference in `text`. */
export const referencedVariables = (text: string): Set<string> =>
  new Set([...text.matchAll(REFERENCE)].map((match) => match[1] as string));

/** Replaces each `${NAME:-default}` with its default (and `${NAME}` with ""), as with an empty .env. */
export const withDefaults = (value: string): string =>
  value.replace(REFERENCE, (_whole, _name, fallback) => fallback ?? "");

/** `NAME=value` lines of an env file, comments and blank lines skipped. */
export const readEnvFile = (path: string): Map<string, string> => {
  const entries = new Map<string, string>();
  for (const line of readRepoFile(path).split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) entries.set(match[1] as string, match[2] as string);
  }
  return entries;
};

/** The user names of the `authorization.users` list of a nats-server configuration. */
export const natsUsers = (conf: string): string[] =>
  [...conf.matchAll(/^\s*user:\s*([\w-]+)\s*$/gm)].map((m) => m[1] as string);

/** The `source:target[:mode]` parts of a short-syntax volume entry, `${NAME:-default}` read as its default. */
export const parseMount = (entry: string): { source: string; target: string; readOnly: boolean } => {
  const [source = "", target = "", mode = ""] = withDefaults(entry).split(":");
  return { source, target, readOnly: mode.split(",").includes("ro") };
};
