const DIGIT_0 = 48;

/**
 * The number spelled by `text` from `start` to `end` (exclusive), or -1 unless that is one or more
 * ASCII digits. Hot paths (the event check, the writer's reading of reply subjects) use it instead
 * of `slice` + `parseInt`, which allocate and accept signs, spaces and trailing garbage.
 */
export const readDigits = (text: string, start: number, end: number): number => {
  if (end <= start) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - DIGIT_0;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
};
