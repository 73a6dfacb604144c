import { describe, expect, it } from "vitest";
import { readCommandLine } from "./command-line.js";
import { UsageError } from "./errors.js";

const SPECS = {
  limit: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

describe("readCommandLine", () => {
  it("reads switches and values, as `--flag value` or `--flag=value`, by long name", () => {
    const line = readCommandLine(["--json", "--limit=5", "-h"], SPECS);
    expect(Object.fromEntries(line.flags)).toEqual({ json: true, limit: "5", help: true });
    expect(line.operands).toEqual([]);
  });

  it("takes a value that starts with a dash as the value of the flag before it", () => {
    expect(readCommandLine(["--limit", "-3"], SPECS).flags.get("limit")).toBe("-3");
  });

  it("collects operands in order when the command takes them", () => {
    expect(readCommandLine(["a", "--json", "b"], SPECS, { operands: true }).operands).toEqual(["a", "b"]);
  });

  it("lets the last of a repeated flag count, unless repeats are refused", () => {
    expect(readCommandLine(["--limit", "1", "--limit", "2"], SPECS).flags.get("limit")).toBe("2");
    expect(() => readCommandLine(["--limit", "1", "--limit=2"], SPECS, { rejectRepeats: true })).toThrow(
      "--limit is given twice",
    );
  });

  it.each([
    [["--verbose"], {}, "unknown flag --verbose; see --help"],
    [["--verbose=3"], {}, "unknown flag --verbose; see --help"],
    [["-x"], {}, "unknown flag -x; see --help"],
    [["-hx"], {}, "unknown flag -hx; see --help"],
    [["-3"], {}, "unknown flag -3; see --help"],
    [["--"], {}, "unknown flag --; see --help"],
    [["--json=yes"], {}, "--json takes no value"],
    [["--limit"], {}, "--limit needs a value; see --help"],
    [["--limit="], { rejectEmptyValues: true }, "--limit needs a value; see --help"],
    [["extra"], {}, 'unexpected argument "extra"; see --help'],
    [["extra", "--verbose"], {}, 'unexpected argument "extra"; see --help'],
  ])("refuses %j with a UsageError naming the first wrong argument", (argv, rules, message) => {
    expect(() => readCommandLine(argv, SPECS, rules)).toThrow(UsageError);
    expect(() => readCommandLine(argv, SPECS, rules)).toThrow(message);
  });

  it("passes an empty value on when empty values are allowed", () => {
    expect(readCommandLine(["--limit="], SPECS).flags.get("limit")).toBe("");
  });
});
