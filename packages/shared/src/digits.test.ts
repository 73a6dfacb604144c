import { describe, expect, it } from "vitest";
import { readDigits } from "./digits.js";

describe("readDigits", () => {
  it("reads the ASCII digits between start and end", () => {
    expect(readDigits("2026-11-24", 0, 4)).toBe(2026);
    expect(readDigits("2026-11-24", 5, 7)).toBe(11);
    expect(readDigits("a.007.b", 2, 5)).toBe(7);
  });

  it("is -1 for an empty range or anything but a digit in it", () => {
    expect(readDigits("123", 1, 1)).toBe(-1);
    expect(readDigits("123", 2, 1)).toBe(-1);
    expect(readDigits("1-3", 0, 3)).toBe(-1);
    expect(readDigits("+12", 0, 3)).toBe(-1);
    expect(readDigits(" 12", 0, 3)).toBe(-1);
    expect(readDigits("١٢", 0, 2)).toBe(-1);
  });
});
