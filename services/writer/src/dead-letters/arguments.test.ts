import { UsageError } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, parseCommand, USAGE } from "./arguments.js";

describe("parseCommand", () => {
  it("reads list with its defaults", () => {
    expect(parseCommand(["list"])).toEqual({
      kind: "list",
      limit: DEFAULT_LIST_LIMIT,
      from: undefined,
      code: undefined,
      json: false,
    });
  });

  it("reads every flag of list, as `--flag value` or `--flag=value`, in any order", () => {
    expect(parseCommand(["--json", "list", "--limit", "5", "--from=40", "--code", "TOO_LARGE"])).toEqual({
      kind: "list",
      limit: 5,
      from: 40,
      code: "TOO_LARGE",
      json: true,
    });
    expect(parseCommand(["list", `--limit=${MAX_LIST_LIMIT}`])).toMatchObject({ limit: MAX_LIST_LIMIT });
  });

  it("reads replay of sequences, once each in the order given", () => {
    expect(parseCommand(["replay", "7", "3", "7", "12"])).toEqual({
      kind: "replay",
      selection: { kind: "sequences", sequences: [7, 3, 12] },
      keep: false,
      force: false,
    });
  });

  it("reads replay --all with a code, --keep and --force", () => {
    expect(parseCommand(["replay", "--all", "--code", "STORAGE_REJECTED", "--keep", "--force"])).toEqual({
      kind: "replay",
      selection: { kind: "all", code: "STORAGE_REJECTED" },
      keep: true,
      force: true,
    });
    expect(parseCommand(["replay", "--all"])).toMatchObject({ selection: { kind: "all", code: undefined } });
  });

  it("skips the `--` that `pnpm <script> -- args` passes through", () => {
    expect(parseCommand(["--", "replay", "1"])).toMatchObject({ kind: "replay" });
  });

  it("answers --help before looking at anything else", () => {
    expect(parseCommand(["--help"])).toEqual({ kind: "help" });
    expect(parseCommand(["replay", "-h"])).toEqual({ kind: "help" });
    expect(USAGE).toContain("replay <seq>... | --all");
  });

  it.each([
    [[], /a command is required/],
    [["show"], /unknown command "show"/],
    [["list", "--verbose"], /unknown flag --verbose/],
    [["list", "--limit"], /--limit needs a value/],
    [["list", "--limit="], /--limit needs a value/],
    [["list", "--json=yes"], /--json takes no value/],
    [["list", "--limit", "0"], /--limit: expected an integer from 1 to 10000, got "0"/],
    [["list", "--limit", "10001"], /--limit: expected an integer from 1 to 10000/],
    [["list", "--limit", "2.5"], /--limit: expected an integer/],
    [["list", "--from", "-1"], /--from: expected an integer from 1/],
    [["list", "--limit", "1", "--limit", "2"], /--limit is given twice/],
    [["list", "--code", "BOGUS"], /--code: expected one of TOO_LARGE, NOT_JSON, INVALID_EVENT, STORAGE_REJECTED/],
    [["list", "5"], /list takes no operands/],
    [["list", "--keep"], /list does not take --keep/],
    [["replay"], /replay needs the sequences .* or --all/],
    [["replay", "--all", "3"], /either sequences or --all, not both/],
    [["replay", "3", "--code", "NOT_JSON"], /--code selects records only with --all/],
    [["replay", "0"], /sequence: expected an integer from 1/],
    [["replay", "abc"], /sequence: expected an integer/],
    [["replay", "--all", "--json"], /replay does not take --json/],
    [["replay", "--all", "--limit", "3"], /replay does not take --limit/],
  ])("refuses %j with a UsageError naming the problem", (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
