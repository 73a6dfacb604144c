import { readFileSync } from "node:fs";
import type { z } from "zod";
import { ConfigError } from "./errors.js";

/**
 * Parses a service's environment once. Empty values count as unset (compose passes `VAR=` for
 * variables it does not know), and each name in `secrets` may instead be given as `NAME_FILE`,
 * a path whose contents become the value, so that secrets can come from mounted files.
 * Throws a {@link ConfigError} naming every variable that is wrong.
 */
export const parseEnv = <Schema extends z.ZodType>(
  schema: Schema,
  env: NodeJS.ProcessEnv,
  secrets: readonly string[] = [],
): Readonly<z.output<Schema>> => {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== "") values[name] = value;
  const problems: string[] = [];
  for (const name of secrets) {
    const file = values[`${name}_FILE`];
    if (file === undefined) continue;
    if (values[name] !== undefined) {
      problems.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      values[name] = readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file} (${(err as Error).message})`);
    }
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join(".") || "(env)"}: ${issue.message}`);
  }
  if (problems.length > 0 || !parsed.success) {
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  return Object.freeze(parsed.data);
};
