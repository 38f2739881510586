// The stock table's logic, free of React: sorting, the summary line and the
// CSV export of the visible rows.
import type { Lang } from './bindings/Lang';
import type { StockRow } from './bindings/StockRow';
import { toCsv } from './csv';
import { expiryClass } from './expiry';
import { pick } from './format';
import type { TextKey, Translate } from './i18n';

export type SortKey = 'code' | 'name' | 'lot' | 'expiry' | 'serial' | 'location' | 'status' | 'quantity';
export interface Sort { key: SortKey; ascending: boolean }

export const STOCK_COLUMNS: { key: SortKey; label: TextKey; numeric?: boolean }[] = [
  { key: 'code', label: 'code' },
  { key: 'name', label: 'name' },
  { key: 'lot', label: 'lot' },
  { key: 'expiry', label: 'expiry' },
  { key: 'serial', label: 'serial' },
  { key: 'location', label: 'location' },
  { key: 'status', label: 'status' },
  { key: 'quantity', label: 'quantity', numeric: true },
];

/** Sorted copy; empty values (no lot, no expiry, no serial) sort last either way. Ties keep the core's order. */
export function sortRows(rows: StockRow[], sort: Sort, lang: Lang): StockRow[] {
  const value = (r: StockRow): string | number | null => {
    switch (sort.key) {
      case 'quantity': return r.quantity;
      case 'name': return pick(lang, r.name, r.name_en);
      case 'location': return pick(lang, r.location_name, r.location_name_en);
      default: return r[sort.key] || null;
    }
  };
  const collator = new Intl.Collator(lang === 'zh' ? 'zh-CN' : 'en', { numeric: true });
  return rows
    .map((row, index) => ({ row, index, value: value(row) }))
    .sort((a, b) => {
      if (a.value === null || b.value === null) {
        return (a.value === null ? 1 : 0) - (b.value === null ? 1 : 0) || a.index - b.index;
      }
      const order = typeof a.value === 'number' && typeof b.value === 'number'
        ? a.value - b.value
        : collator.compare(String(a.value), String(b.value));
      return (sort.ascending ? order : -order) || a.index - b.index;
    })
    .map((x) => x.row);
}

export interface StockSummary { rows: number; total: number; expired: number; within30: number; within90: number }

export function summarize(rows: StockRow[], today: string): StockSummary {
  const summary: StockSummary = { rows: rows.length, total: 0, expired: 0, within30: 0, within90: 0 };
  for (const r of rows) {
    summary.total += r.quantity;
    const c = expiryClass(r.expiry, today);
    if (c === 'expired' || c === 'within30' || c === 'within90') summary[c] += 1;
  }
  return summary;
}

/** The visible rows as CSV (with BOM), in the UI language, quantity and unit in separate columns. */
export function stockCsv(rows: StockRow[], t: Translate, lang: Lang): string {
  const headers = [t('code'), t('name'), t('lot'), t('expiry'), t('serial'), t('location'), t('status'), t('quantity'), t('unit')];
  return toCsv(headers, rows.map((r) => [
    r.code, pick(lang, r.name, r.name_en), r.lot, r.expiry, r.serial,
    pick(lang, r.location_name, r.location_name_en), t(r.status), r.quantity, r.unit,
  ]));
}
