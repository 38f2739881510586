import { describe, expect, it } from 'vitest';
import { toCsv } from './csv';
import { expiryClass, isIsoDate } from './expiry';
import { dictionaries, enumKey, translator } from './i18n';
import { sortRows } from './screens/Stock';
import type { StockRow } from './bindings/StockRow';

describe('expiry classification relative to today', () => {
  const today = '2026-11-25';
  it.each([
    [null, 'none'],
    ['2026-11-24', 'expired'],
    ['2026-11-25', 'within30'],
    ['2026-12-25', 'within30'],
    ['2026-12-26', 'within90'],
    ['2027-02-23', 'within90'],
    ['2027-02-24', 'ok'],
    ['2030-01-01', 'ok'],
  ])('%s is %s', (expiry, expected) => {
    expect(expiryClass(expiry, today)).toBe(expected);
  });

  it('accepts only real YYYY-MM-DD dates', () => {
    expect(isIsoDate('2028-02-29')).toBe(true);
    expect(isIsoDate('2027-02-29')).toBe(false);
    expect(isIsoDate('2027-2-1')).toBe(false);
    expect(isIsoDate('27-02-01')).toBe(false);
  });
});

describe('translations', () => {
  it('have the same keys in both languages and no empty text', () => {
    expect(Object.keys(dictionaries.en).sort()).toEqual(Object.keys(dictionaries.zh).sort());
    for (const dictionary of Object.values(dictionaries)) {
      for (const [key, text] of Object.entries(dictionary)) expect(text, key).not.toBe('');
    }
  });
  it('cover every role and movement kind', () => {
    const roles = ['clerk', 'stocktaker', 'department', 'manager', 'purchasing', 'auditor', 'admin'];
    const kinds = ['receive', 'issue', 'transfer_out', 'transfer_in', 'return_from_department', 'return_to_supplier',
      'adjust', 'count', 'quarantine', 'release', 'scrap', 'consume'];
    for (const role of roles) expect(dictionaries.zh[enumKey('role', role)], role).toBeTruthy();
    for (const kind of kinds) expect(dictionaries.en[enumKey('kind', kind)], kind).toBeTruthy();
  });
  it('fill in values', () => {
    expect(translator('en')('receiptPosted', { number: 'RK-S01-000001' })).toBe('Receipt RK-S01-000001 posted');
    expect(translator('zh')('receiptPosted', { number: 'RK-S01-000001' })).toBe('入库单 RK-S01-000001 已过账');
  });
});

describe('CSV export', () => {
  it('starts with a BOM, quotes what needs quoting and ends lines with CRLF', () => {
    const csv = toCsv(['编码', '名称'], [['A1', '注射器, 5ml'], ['B2', 'say "hi"'], ['C3', null]]);
    expect(csv).toBe('\uFEFF编码,名称\r\nA1,"注射器, 5ml"\r\nB2,"say ""hi"""\r\nC3,\r\n');
  });
});

describe('stock sorting', () => {
  const row = (code: string, quantity: number, expiry: string | null): StockRow => ({
    item: code, code, gtin: null, name: code, name_en: code, unit: '支', lot: 'L', expiry, serial: null,
    location: 'MAIN', location_name: '中心库', location_name_en: 'Main', status: 'available', quantity,
  });
  const rows = [row('B', 5, '2027-01-01'), row('A', 50, null), row('C', 1, '2026-12-01')];
  it('sorts by quantity both ways', () => {
    expect(sortRows(rows, 'quantity', true, 'en').map((r) => r.code)).toEqual(['C', 'B', 'A']);
    expect(sortRows(rows, 'quantity', false, 'en').map((r) => r.code)).toEqual(['A', 'B', 'C']);
  });
  it('puts lots without expiry last', () => {
    expect(sortRows(rows, 'expiry', true, 'en').map((r) => r.code)).toEqual(['C', 'B', 'A']);
  });
});
