// Small display helpers shared by the screens.
import type { Lang } from './bindings/Lang';

/** The name in the UI language; English falls back to Chinese when empty. */
export function pick(lang: Lang, zh: string, en: string | null | undefined): string {
  return lang === 'zh' ? zh : en || zh;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** An RFC 3339 instant as local wall time, YYYY-MM-DD HH:mm:ss. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A signed quantity for the movement list: +5, −3, or =12 for a count (which sets the balance). */
export function signedQuantity(quantity: number, isCount: boolean): string {
  if (isCount) return `= ${quantity.toLocaleString('en-US')}`;
  const magnitude = Math.abs(quantity).toLocaleString('en-US');
  return quantity > 0 ? `+${magnitude}` : quantity < 0 ? `−${magnitude}` : '0';
}

/** Base-unit quantities with thousands separators (the same in both languages). */
export function formatQuantity(quantity: number): string {
  return quantity.toLocaleString('en-US');
}
