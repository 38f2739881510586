// The stocktake screen's pure rules: flag words and colours, the largest
// variances for the chart, recount keys, progress, the typed quantity, and
// which observations the counter has undone or replaced in this session.
import type { ObservationView } from './bindings/ObservationView';
import type { RecountKey } from './bindings/RecountKey';
import type { StocktakeStatus } from './bindings/StocktakeStatus';
import type { VarianceFlag } from './bindings/VarianceFlag';
import type { VarianceRow } from './bindings/VarianceRow';
import { parseDecimal } from './decimal';
import type { TextKey } from './i18n';

/** Every flag the core sets, with its words (a new flag in the bindings fails the type check here). */
export const FLAG_TEXT: Record<VarianceFlag, TextKey> = {
  uncounted: 'flagUncounted',
  disagreement: 'flagDisagreement',
  recount_pending: 'flagRecountPending',
  over_tolerance: 'flagOverTolerance',
  recounted: 'flagRecounted',
  ambiguous: 'flagAmbiguous',
  not_on_books: 'flagNotOnBooks',
  found_elsewhere: 'flagFoundElsewhere',
  serial_counted_twice: 'flagSerialCountedTwice',
};

/** How loud a flag is: blocks posting (danger), needs a decision (warn), informs (info), settled (ok). */
export const FLAG_TONE: Record<VarianceFlag, 'danger' | 'warn' | 'info' | 'ok'> = {
  disagreement: 'danger',
  recount_pending: 'danger',
  over_tolerance: 'warn',
  ambiguous: 'warn',
  uncounted: 'info',
  not_on_books: 'info',
  found_elsewhere: 'info',
  serial_counted_twice: 'danger',
  recounted: 'ok',
};

export const STATUS_TEXT: Record<StocktakeStatus, TextKey> = {
  counting: 'stocktakeCounting',
  review: 'stocktakeReview',
  posted: 'stocktakePosted',
  cancelled: 'stocktakeCancelled',
};

/** Counting or review: the stocktake still takes counts (review: recounts only) and decisions. */
export function isOpen(status: StocktakeStatus): boolean {
  return status === 'counting' || status === 'review';
}

/** A variance row's identity: item, lot, serial, location. */
export function rowKey(row: Pick<VarianceRow, 'code' | 'lot' | 'serial' | 'location'>): string {
  return [row.code, row.lot ?? '', row.serial ?? '', row.location].join('|');
}

export function recountKey(row: VarianceRow): RecountKey {
  return { item: row.code, lot: row.lot, serial: row.serial, location: row.location };
}

export interface VarianceBar { row: VarianceRow; value: number; share: number }

/**
 * The rows with the largest variance by value, for the chart: at most
 * `count`, in the core's order (largest absolute value first), each with its
 * share of the largest (0..1). Rows without a value (no price, not counted)
 * or worth nothing are left out.
 */
export function largestVariances(rows: VarianceRow[], count: number): VarianceBar[] {
  const valued = rows
    .map((row) => ({ row, decimal: parseDecimal(row.value) }))
    .filter((x) => x.decimal !== null && x.decimal.units !== 0n)
    .slice(0, count)
    .map(({ row }) => ({ row, value: Number(row.value) }));
  const largest = Math.max(0, ...valued.map((v) => Math.abs(v.value)));
  return valued.map((v) => ({ ...v, share: largest > 0 ? Math.abs(v.value) / largest : 0 }));
}

/** Keys counted out of keys in scope, as a whole percentage (0 when nothing is in scope). */
export function progressPercent(counted: number, inScope: number): number {
  if (inScope <= 0) return 0;
  return Math.min(100, Math.floor((counted / inScope) * 100));
}

/** The core's LINE_QUANTITY_MAX. */
export const COUNT_QUANTITY_MAX = 10_000_000;

/** A typed count: digits only, 0 ("none here") up to the line limit; else null. */
export function parseTypedQuantity(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d{1,8}$/.test(trimmed)) return null;
  const quantity = Number(trimmed);
  return quantity <= COUNT_QUANTITY_MAX ? quantity : null;
}

/**
 * What became of an observation the counter sees in "last scans": the core's
 * list keeps an observation that was undone or replaced by a typed quantity
 * (without saying so), so the screen remembers what it did itself.
 */
export type Superseded = Map<string, 'undone' | 'replaced'>;

/** The newest observation in `scans` that still counts, as far as this screen knows. */
export function lastEffective(scans: ObservationView[], superseded: Superseded): ObservationView | null {
  return scans.find((o) => !superseded.has(o.id)) ?? null;
}

/** Whether this keydown should undo the last scan: Ctrl+Z (⌘Z), unless a text field has text to undo. */
export function isUndoKey(e: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey' | 'target'>): boolean {
  if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey || e.key.toLowerCase() !== 'z') return false;
  const target = e.target as HTMLElement | null;
  if (target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA')) {
    const field = target as HTMLInputElement;
    if (field.type !== 'checkbox' && field.type !== 'file' && field.value !== '') return false;
  }
  return true;
}
