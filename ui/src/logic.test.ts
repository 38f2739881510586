import { describe, expect, it } from 'vitest';
import type { StockRow } from './bindings/StockRow';
import { toCsv } from './csv';
import { daysUntil, expiryClass, isIsoDate } from './expiry';
import { localTime, signedQuantity } from './format';
import { dictionaries, KIND_TEXT, ROLE_TEXT, translator } from './i18n';
import { checkReceiveLine, type ReceiveLine } from './screens/Receive';
import { sortRows, stockCsv, summarize } from './stockTable';

describe('expiry classification relative to the workstation date', () => {
  const today = '2026-11-25';
  it.each([
    [null, 'none'],
    ['2020-01-01', 'expired'],
    ['2026-11-24', 'expired'], // yesterday
    ['2026-11-25', 'within30'], // usable through its expiry date
    ['2026-11-26', 'within30'],
    ['2026-12-25', 'within30'], // day 30
    ['2026-12-26', 'within90'], // day 31
    ['2027-02-23', 'within90'], // day 90
    ['2027-02-24', 'ok'], // day 91
    ['2031-06-30', 'ok'],
  ] as const)('%s → %s', (expiry, expected) => {
    expect(expiryClass(expiry, today)).toBe(expected);
  });

  it('counts calendar days across month, year and leap-day boundaries', () => {
    expect(daysUntil('2027-01-01', '2026-12-31')).toBe(1);
    expect(daysUntil('2028-03-01', '2028-02-28')).toBe(2);
    expect(daysUntil('2026-03-30', '2026-03-28')).toBe(2); // across a DST change in many zones
    expect(expiryClass('2028-03-01', '2028-02-29')).toBe('within30');
  });

  it('accepts only real YYYY-MM-DD dates', () => {
    expect(isIsoDate('2028-02-29')).toBe(true);
    expect(isIsoDate('2027-02-29')).toBe(false);
    expect(isIsoDate('2027-13-01')).toBe(false);
    expect(isIsoDate('2027-2-1')).toBe(false);
    expect(isIsoDate('27-02-01')).toBe(false);
    expect(isIsoDate('2027/02/01')).toBe(false);
    expect(isIsoDate('')).toBe(false);
  });
});

describe('translations', () => {
  it('have the same keys in both languages and no empty text', () => {
    expect(Object.keys(dictionaries.en).sort()).toEqual(Object.keys(dictionaries.zh).sort());
    for (const [lang, dictionary] of Object.entries(dictionaries)) {
      for (const [key, text] of Object.entries(dictionary)) expect(text.trim(), `${lang}.${key}`).not.toBe('');
    }
  });

  it('use the same placeholders in both languages', () => {
    const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(dictionaries.zh) as (keyof typeof dictionaries.zh)[]) {
      expect(placeholders(dictionaries.en[key]), key).toEqual(placeholders(dictionaries.zh[key]));
    }
  });

  it('cover every role, movement kind and stock status the core sends', () => {
    const roles = ['clerk', 'stocktaker', 'department', 'manager', 'purchasing', 'auditor', 'admin'] as const;
    const kinds = ['receive', 'issue', 'transfer_out', 'transfer_in', 'return_from_department', 'return_to_supplier',
      'adjust', 'count', 'quarantine', 'release', 'scrap', 'consume'] as const;
    expect(Object.keys(ROLE_TEXT).sort()).toEqual([...roles].sort());
    expect(Object.keys(KIND_TEXT).sort()).toEqual([...kinds].sort());
    for (const lang of ['zh', 'en'] as const) {
      for (const role of roles) expect(dictionaries[lang][ROLE_TEXT[role]], role).toBeTruthy();
      for (const kind of kinds) expect(dictionaries[lang][KIND_TEXT[kind]], kind).toBeTruthy();
      for (const status of ['available', 'quarantined'] as const) expect(dictionaries[lang][status]).toBeTruthy();
    }
    expect(translator('zh')(KIND_TEXT.transfer_out)).toBe('调出');
    expect(translator('en')(ROLE_TEXT.manager)).toBe('Manager');
  });

  it('fill in values', () => {
    expect(translator('en')('receiptPosted', { number: 'RK-S01-000001' })).toBe('Receipt RK-S01-000001 posted');
    expect(translator('zh')('receiptPosted', { number: 'RK-S01-000001' })).toBe('入库单 RK-S01-000001 已过账');
  });
});

const row = (code: string, quantity: number, expiry: string | null, extra: Partial<StockRow> = {}): StockRow => ({
  item: code, code, gtin: null, name: `名${code}`, name_en: `Name ${code}`, unit: '支', lot: `L-${code}`, expiry, serial: null,
  location: 'MAIN', location_name: '中心库', location_name_en: 'Central Storeroom', status: 'available', quantity, ...extra,
});

describe('stock table logic', () => {
  const rows = [row('B', 5, '2027-01-01'), row('A', 50, null), row('C', 1, '2026-11-01'), row('D', 12, '2026-12-01')];

  it('sorts by quantity both ways', () => {
    expect(sortRows(rows, { key: 'quantity', ascending: true }, 'en').map((r) => r.code)).toEqual(['C', 'B', 'D', 'A']);
    expect(sortRows(rows, { key: 'quantity', ascending: false }, 'en').map((r) => r.code)).toEqual(['A', 'D', 'B', 'C']);
  });

  it('sorts by expiry with lots without expiry last either way', () => {
    expect(sortRows(rows, { key: 'expiry', ascending: true }, 'en').map((r) => r.code)).toEqual(['C', 'D', 'B', 'A']);
    expect(sortRows(rows, { key: 'expiry', ascending: false }, 'en').map((r) => r.code)).toEqual(['B', 'D', 'C', 'A']);
  });

  it('sorts lots numerically where they are numbers', () => {
    const lots = [row('X', 1, null, { lot: 'L10' }), row('Y', 1, null, { lot: 'L9' })];
    expect(sortRows(lots, { key: 'lot', ascending: true }, 'en').map((r) => r.lot)).toEqual(['L9', 'L10']);
  });

  it('summarizes rows, total and expiry counts', () => {
    expect(summarize(rows, '2026-11-25')).toEqual({ rows: 4, total: 68, expired: 1, within30: 1, within90: 1 });
  });

  it('exports the given rows as CSV with a BOM, headers in the UI language, and quoting', () => {
    const csv = stockCsv([row('A', 1200, '2027-02-14', { name: '注射器, 5ml', serial: 'SN"1"' })], translator('zh'), 'zh');
    expect(csv.startsWith('\uFEFF编码,名称,批号,有效期,序列号,库位,状态,数量,单位\r\n')).toBe(true);
    expect(csv).toContain('A,"注射器, 5ml",L-A,2027-02-14,"SN""1""",中心库,可用,1200,支\r\n');
    expect(stockCsv([], translator('en'), 'en')).toBe('\uFEFFCode,Name,Lot,Expiry,Serial,Location,Status,Quantity,Unit\r\n');
  });

  it('quotes CSV cells that need it and ends lines with CRLF', () => {
    expect(toCsv(['a', 'b'], [['x\ny', null], [3, 'plain']])).toBe('\uFEFFa,b\r\n"x\ny",\r\n3,plain\r\n');
  });
});

describe('receive line checks', () => {
  const line = (patch: Partial<ReceiveLine>): ReceiveLine => ({
    code: '09506000134352', item: null, lot: 'L1', expiry: '2029-01-31', production: '', serial: '', quantity: '10', unitCost: '', ...patch,
  });
  it('accept a complete line', () => expect(checkReceiveLine(line({}))).toEqual({}));
  it('name each problem', () => {
    expect(checkReceiveLine(line({ code: ' ', expiry: '2029-02-30', quantity: '0', unitCost: '1,5' })))
      .toEqual({ item: 'required', expiry: 'invalidDate', quantity: 'invalidQuantity', unitCost: 'invalidUnitCost' });
    expect(checkReceiveLine(line({ production: '2030-01-01' }))).toEqual({ production: 'productionAfterExpiry' });
    expect(checkReceiveLine(line({ lot: '' }))).toEqual({ lot: 'lotNeededForExpiry' });
  });
});

describe('formatting', () => {
  it('shows signed quantities and counts', () => {
    expect(signedQuantity(1200, false)).toBe('+1,200');
    expect(signedQuantity(-3, false)).toBe('−3');
    expect(signedQuantity(40, true)).toBe('= 40');
  });
  it('shows local time as YYYY-MM-DD HH:mm:ss', () => {
    expect(localTime(new Date(2026, 10, 25, 9, 5, 7).toISOString())).toBe('2026-11-25 09:05:07');
  });
});
