import { describe, expect, it } from "vitest";
import { printable, truncate } from "./terminal-text.js";

describe("printable and truncate", () => {
  it("leave ordinary text alone", () => {
    expect(printable("Zugriff verweigert: ümlaut, 日本語")).toBe("Zugriff verweigert: ümlaut, 日本語");
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("exactly", 7)).toBe("exactly");
    expect(truncate("too long", 4)).toBe("too…");
  });

  it("shows every kind of line break as one ⏎ and a tab as a space", () => {
    expect(printable("a\r\nb\rc\nd\te")).toBe("a⏎b⏎c⏎d e");
  });

  it("replaces every other control character with U+FFFD", () => {
    // C0 (ESC, BEL, NUL), DEL and C1 (CSI): each could move the cursor or recolour the terminal.
    expect(printable("\u001b[2J\u0007\u0000\u007f\u009b")).toBe("\ufffd[2J\ufffd\ufffd\ufffd\ufffd");
  });

  it("replaces every bidirectional control with U+FFFD", () => {
    const controls = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069";
    expect(printable(`a${controls}b`)).toBe(`a${"\ufffd".repeat(controls.length)}b`);
  });

  it("keeps the result on one line whatever the input", () => {
    const hostile = Array.from({ length: 0x2070 }, (_, code) => String.fromCharCode(code)).join("");
    const shown = Array.from(printable(hostile));
    expect(shown.filter((char) => ["\n", "\r", "\u001b", "\u202e"].includes(char))).toEqual([]);
  });

  it("cuts by code points, never inside a surrogate pair", () => {
    expect(truncate("😀😀😀", 2)).toBe("😀…");
    expect(truncate("anything", 0)).toBe("…");
  });
});
