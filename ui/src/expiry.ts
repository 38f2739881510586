// How close a lot is to its expiry, relative to the workstation's today.
// A lot is usable through its expiry date.

export type ExpiryClass = 'expired' | 'within30' | 'within90' | 'ok' | 'none';

const DAY_MS = 86_400_000;

function dayNumber(date: string): number {
  const [y, m, d] = date.split('-').map(Number);
  return Date.UTC(y, m - 1, d) / DAY_MS;
}

export function daysUntil(expiry: string, today: string): number {
  return dayNumber(expiry) - dayNumber(today);
}

export function expiryClass(expiry: string | null, today: string): ExpiryClass {
  if (!expiry) return 'none';
  const days = daysUntil(expiry, today);
  if (days < 0) return 'expired';
  if (days <= 30) return 'within30';
  if (days <= 90) return 'within90';
  return 'ok';
}

/** A strict YYYY-MM-DD that is a real calendar date. */
export function isIsoDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const [y, m, d] = text.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}
