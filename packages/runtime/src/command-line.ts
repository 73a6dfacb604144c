import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";

/** A flag a command takes: a switch (`--json`) or a flag with a value (`--limit 5`, `--limit=5`). */
export interface FlagSpec {
  readonly type: "boolean" | "string";
  /** One-letter alias, such as `h` for `--help`. */
  readonly short?: string;
}

/** What {@link readCommandLine} accepts besides the flags. */
export interface CommandLineRules {
  /** Operands (arguments that are not flags) are collected; otherwise the first is refused. */
  readonly operands?: boolean;
  /** A flag given an empty value (`--limit=`) is refused as missing its value. */
  readonly rejectEmptyValues?: boolean;
  /** A flag with a value given twice is refused; otherwise the last one counts. */
  readonly rejectRepeats?: boolean;
}

/** The command line as read: each flag given (by its long name) with its value, and the operands in order. */
export interface CommandLine {
  /** `true` for a switch, the text for a flag with a value. */
  readonly flags: ReadonlyMap<string, string | true>;
  readonly operands: readonly string[];
}

/**
 * Reads `argv` (without `node` and the script) with `node:util.parseArgs`, and refuses what
 * Vigil's commands do not take with a {@link UsageError} naming the first wrong argument, in
 * their words: `unknown flag --x; see --help`, `--json takes no value`, `--limit needs a value;
 * see --help`, `--limit is given twice`, `unexpected argument "x"; see --help`. A value may start
 * with a dash (`--min-criticality -3`); grouped short flags (`-hx`) and `--` are unknown flags.
 */
export const readCommandLine = (
  argv: readonly string[],
  specs: Readonly<Record<string, FlagSpec>>,
  rules: CommandLineRules = {},
): CommandLine => {
  const args = [...argv];
  // Unknown flags come back as tokens rather than errors, so that the messages stay ours.
  const { tokens } = parseArgs({ args, options: specs, strict: false, allowPositionals: true, tokens: true });
  const flags = new Map<string, string | true>();
  const operands: string[] = [];
  for (const token of tokens) {
    if (token.kind === "option-terminator") throw new UsageError("unknown flag --; see --help");
    if (token.kind === "positional") {
      if (rules.operands !== true) throw new UsageError(`unexpected argument "${token.value}"; see --help`);
      operands.push(token.value);
      continue;
    }
    const arg = args[token.index] as string;
    const spec = Object.hasOwn(specs, token.name) ? specs[token.name] : undefined;
    const whole = arg.startsWith("--") || arg === token.rawName;
    if (spec === undefined || !whole) throw new UsageError(`unknown flag ${whole ? token.rawName : arg}; see --help`);
    if (spec.type === "boolean") {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`);
      flags.set(token.name, true);
      continue;
    }
    if (token.value === undefined || (rules.rejectEmptyValues === true && token.value === "")) {
      throw new UsageError(`${token.rawName} needs a value; see --help`);
    }
    if (rules.rejectRepeats === true && flags.has(token.name)) throw new UsageError(`${token.rawName} is given twice`);
    flags.set(token.name, token.value);
  }
  return { flags, operands };
};
