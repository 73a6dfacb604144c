const NEWLINE_MARK = "⏎";
const ELLIPSIS = "…";

/**
 * Makes untrusted text safe to print on one line of a terminal. The one rule every command of
 * Vigil follows: line breaks (`\r\n`, `\r`, `\n`) become ⏎, a tab becomes a space, and every other
 * control character (C0, DEL, C1: they could move the cursor or recolour the terminal) and every
 * bidirectional control (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: they could make the text
 * read differently from what it is) becomes U+FFFD. The output is for people; whoever needs the
 * exact text asks for JSON.
 */
export const printable = (text: string): string =>
  text
    .replace(/\r\n|\r|\n/g, NEWLINE_MARK)
    .replace(/\t/g, " ")
    .replace(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, "\ufffd");

/** Cuts `text` to at most `width` code points, marking a cut with an ellipsis. */
export const truncate = (text: string, width: number): string => {
  const points = Array.from(text);
  if (points.length <= width) return text;
  return `${points.slice(0, Math.max(0, width - 1)).join("")}${ELLIPSIS}`;
};
