/**
 * Money is integer minor units (fen) inside the system. The public API shows a decimal string with two
 * places ("99.00"). Parsing is exact string work: a float never holds money.
 */

/** Upper bound for any single amount: 10^12 fen (10 billion yuan), well inside Number.MAX_SAFE_INTEGER. */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000;

const DECIMAL = /^(0|[1-9]\d{0,9})(?:\.(\d{1,2}))?$/;

export function isMinorAmount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_AMOUNT_MINOR;
}

/** "99.00" | "99.5" | "99" → 9900 | 9950 | 9900; anything else (sign, exponent, 3 decimals, spaces) → null. */
export function parseDecimalAmount(text: string): number | null {
  const match = DECIMAL.exec(text);
  if (!match) return null;
  const whole = Number(match[1]);
  const fraction = (match[2] ?? '').padEnd(2, '0');
  const minor = whole * 100 + Number(fraction);
  return isMinorAmount(minor) ? minor : null;
}

/** 9900 → "99.00" */
export function formatMinorAmount(minor: number): string {
  if (!isMinorAmount(minor)) throw new RangeError(`not a valid minor amount: ${minor}`);
  const whole = Math.floor(minor / 100);
  const fraction = String(minor % 100).padStart(2, '0');
  return `${whole}.${fraction}`;
}
