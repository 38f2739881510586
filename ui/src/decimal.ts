// Money as the core sends it: decimal text ("-0.38", "5800.00"), never a float.
// Exact arithmetic on that text (BigInt units at the text's scale) for the
// few sums the screens and the fake backend make; Number only for drawing.

export interface Decimal { units: bigint; scale: number }

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** "12.50" → 1250 units at scale 2; null when the text is no plain decimal. */
export function parseDecimal(text: string | null | undefined): Decimal | null {
  const match = DECIMAL.exec((text ?? '').trim());
  if (!match) return null;
  const fraction = match[3] ?? '';
  const units = BigInt(match[2] + fraction);
  return { units: match[1] ? -units : units, scale: fraction.length };
}

function atScale(d: Decimal, scale: number): bigint {
  return d.units * 10n ** BigInt(scale - d.scale);
}

/** The text of a decimal at its own scale: 1250 at scale 2 → "12.50". */
export function formatDecimal(d: Decimal): string {
  const negative = d.units < 0n;
  const digits = (negative ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const whole = d.scale > 0 ? `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}` : digits;
  return negative ? `-${whole}` : whole;
}

/** Without trailing zeros: "5800.00" → "5800", "-0.50" → "-0.5". */
export function normalizeDecimal(d: Decimal): Decimal {
  let { units, scale } = d;
  while (scale > 0 && units % 10n === 0n) { units /= 10n; scale -= 1; }
  return { units, scale };
}

/** price × n at the price's scale ("0.38" × −2 → "-0.76"); null for no price. */
export function decimalTimes(price: string | null | undefined, n: number): string | null {
  const p = parseDecimal(price);
  return p ? formatDecimal({ units: p.units * BigInt(n), scale: p.scale }) : null;
}

/** The exact sum of decimal texts, without trailing zeros ("0" for none). */
export function decimalSum(texts: (string | null | undefined)[]): string {
  let total: Decimal = { units: 0n, scale: 0 };
  for (const text of texts) {
    const d = parseDecimal(text);
    if (!d) continue;
    const scale = Math.max(total.scale, d.scale);
    total = { units: atScale(total, scale) + atScale(d, scale), scale };
  }
  return formatDecimal(normalizeDecimal(total));
}

/** Compares |a| with |b| exactly: negative, zero or positive. Unparsable text counts as zero. */
export function compareAbs(a: string | null | undefined, b: string | null | undefined): number {
  const x = parseDecimal(a) ?? { units: 0n, scale: 0 };
  const y = parseDecimal(b) ?? { units: 0n, scale: 0 };
  const scale = Math.max(x.scale, y.scale);
  const [ax, ay] = [atScale(x, scale), atScale(y, scale)].map((u) => (u < 0n ? -u : u));
  return ax === ay ? 0 : ax > ay ? 1 : -1;
}

/** "-1234.5" → "−1,234.50": money for people (two decimals, thousands separators, a real minus). */
export function formatMoney(text: string | null | undefined): string {
  const d = parseDecimal(text);
  if (!d) return text ?? '';
  let cents = d.units * 10n ** BigInt(Math.max(0, 2 - d.scale));
  if (d.scale > 2) {
    // Rounded half away from zero, as a cashier would.
    const divisor = 10n ** BigInt(d.scale - 2);
    const rest = d.units % divisor;
    cents = d.units / divisor + ((rest < 0n ? -rest : rest) * 2n >= divisor ? (d.units < 0n ? -1n : 1n) : 0n);
  }
  const negative = cents < 0n;
  const digits = (negative ? -cents : cents).toString().padStart(3, '0');
  const whole = BigInt(digits.slice(0, -2)).toLocaleString('en-US');
  return `${negative ? '−' : ''}${whole}.${digits.slice(-2)}`;
}
