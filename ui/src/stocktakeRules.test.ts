import { describe, expect, it } from 'vitest';
import type { ObservationView } from './bindings/ObservationView';
import type { VarianceRow } from './bindings/VarianceRow';
import { compareAbs, decimalSum, decimalTimes, formatMoney, parseDecimal } from './decimal';
import { dictionaries } from './i18n';
import { openMode } from './screens/Stocktake';
import { FLAG_TEXT, isUndoKey, largestVariances, lastEffective, parseTypedQuantity, progressPercent, recountKey, rowKey } from './stocktake';

const row = (patch: Partial<VarianceRow>): VarianceRow => ({
  code: 'C', name: 'n', name_en: 'n', specification: '', unit: '支', lot: null, serial: null, location: 'MAIN', expected: 0,
  counted: null, difference: null, unit_cost: null, value: null, counters: {}, round: 0, counted_at_ms: null, flags: [], ...patch,
});

describe('money as decimal text', () => {
  it('multiplies and sums exactly, keeping the price’s scale and dropping trailing zeros from sums', () => {
    expect(decimalTimes('0.38', -5)).toBe('-1.90');
    expect(decimalTimes('5800.00', 1)).toBe('5800.00');
    expect(decimalTimes('0.1', 3)).toBe('0.3'); // 0.1 × 3 in floats is 0.30000000000000004
    expect(decimalTimes(null, 3)).toBeNull();
    expect(decimalSum(['-1.90', '0.38', null, '5800.00'])).toBe('5798.48');
    expect(decimalSum([])).toBe('0');
    expect(decimalSum(['0.10', '0.20'])).toBe('0.3');
  });

  it('compares absolute values and reads only plain decimals', () => {
    expect(compareAbs('-1.90', '1.9')).toBe(0);
    expect(compareAbs('-2', '1.99')).toBe(1);
    expect(compareAbs(null, '0.01')).toBe(-1);
    expect(parseDecimal('1e3')).toBeNull();
    expect(parseDecimal(' 12.50 ')).toEqual({ units: 1250n, scale: 2 });
  });

  it('shows money with two decimals, separators and a real minus, rounding half away from zero', () => {
    expect(formatMoney('-1234.5')).toBe('−1,234.50');
    expect(formatMoney('0.005')).toBe('0.01');
    expect(formatMoney('-0.004')).toBe('0.00'); // no minus on a zero
    expect(formatMoney('5800')).toBe('5,800.00');
    expect(formatMoney('n/a')).toBe('n/a');
  });
});

describe('stocktake rules', () => {
  it('picks the largest variances by value in the core’s order, with their share of the largest', () => {
    const rows = [
      row({ code: 'A', value: '-580.00' }), row({ code: 'B', value: '290.00' }), row({ code: 'N', value: null }),
      row({ code: 'Z', value: '0.00' }), row({ code: 'C', value: '-1.45' }),
    ];
    expect(largestVariances(rows, 2).map((b) => [b.row.code, b.value, b.share])).toEqual([['A', -580, 1], ['B', 290, 0.5]]);
    expect(largestVariances(rows, 8).map((b) => b.row.code)).toEqual(['A', 'B', 'C']);
    expect(largestVariances([], 8)).toEqual([]);
  });

  it('reads a typed count: whole numbers from 0 to the line limit', () => {
    expect(parseTypedQuantity(' 12 ')).toBe(12);
    expect(parseTypedQuantity('0')).toBe(0);
    expect(parseTypedQuantity('10000000')).toBe(10_000_000);
    for (const bad of ['', '-1', '1.5', '10000001', '1e3', 'x']) expect(parseTypedQuantity(bad)).toBeNull();
  });

  it('shows progress as a whole percentage', () => {
    expect([progressPercent(0, 0), progressPercent(1, 3), progressPercent(3, 3), progressPercent(4, 3)]).toEqual([0, 33, 100, 100]);
  });

  it('names a key for recounts and selection', () => {
    const r = row({ code: '09506000134352', lot: 'L1', location: 'MAIN' });
    expect(recountKey(r)).toEqual({ item: '09506000134352', lot: 'L1', serial: null, location: 'MAIN' });
    expect(rowKey(r)).toBe('09506000134352|L1||MAIN');
  });

  it('skips what this screen undid or replaced when looking for the last scan', () => {
    const scan = (id: string) => ({ id }) as ObservationView;
    const scans = [scan('c'), scan('b'), scan('a')];
    expect(lastEffective(scans, new Map([['c', 'undone'], ['b', 'replaced']]))?.id).toBe('a');
    expect(lastEffective(scans, new Map([['c', 'undone'], ['b', 'undone'], ['a', 'undone']]))).toBeNull();
  });

  it('takes Ctrl+Z for undo unless a text field has text of its own to undo', () => {
    const field = document.createElement('input');
    const key = (patch: Partial<KeyboardEvent>) => ({ key: 'z', ctrlKey: true, metaKey: false, altKey: false, shiftKey: false, target: document.body, ...patch }) as KeyboardEvent;
    expect(isUndoKey(key({}))).toBe(true);
    expect(isUndoKey(key({ key: 'Z' }))).toBe(true);
    expect(isUndoKey(key({ ctrlKey: false }))).toBe(false);
    expect(isUndoKey(key({ shiftKey: true }))).toBe(false);
    expect(isUndoKey(key({ target: field }))).toBe(true);
    field.value = '12';
    expect(isUndoKey(key({ target: field }))).toBe(false);
  });

  it('opens a stocktake where its user works: counters count, reviewers review what is done', () => {
    expect(openMode('counting', false, true)).toBe('count');
    expect(openMode('review', false, true)).toBe('review');
    expect(openMode('review', false, false)).toBe('count');
    expect(openMode('posted', false, false)).toBe('review');
    expect(openMode('posted', true, false)).toBe('count');
    expect(openMode('cancelled', true, true)).toBe('review');
  });

  it('has words for every flag in both languages', () => {
    for (const key of Object.values(FLAG_TEXT)) {
      expect(dictionaries.zh[key]).not.toBe('');
      expect(dictionaries.en[key]).not.toBe('');
    }
  });
});
