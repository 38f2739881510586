// The pure rules behind scanning on the receive and issue screens.
import { describe, expect, it } from 'vitest';
import type { ItemView } from './bindings/ItemView';
import type { LotChoice } from './bindings/LotChoice';
import type { ScanReading } from './bindings/ScanReading';
import { translator } from './i18n';
import { pickFromScan } from './screens/Issue';
import { lineFromScan, type ReceiveLine } from './screens/Receive';

const t = translator('en');
const reading = (patch: Partial<ScanReading>): ScanReading => ({
  di: '09506000134352', gtin: '09506000134352', lot: null, serial: null, expiry: null, production_date: null, quantity: null,
  elements: [], warnings: [], ...patch,
});
const item = (id: string, serialized = false) => ({ id, code: id, serialized } as ItemView);
const line = (patch: Partial<ReceiveLine>): ReceiveLine => ({
  code: '', item: null, lot: '', expiry: '', production: '', serial: '', quantity: '', unitCost: '', ...patch,
});

describe('the receive line after a scan', () => {
  const syringe = item('SYR');
  const needle = item('NEE');
  const stent = item('STE', true);

  it.each([
    ['fills what the barcode carries', reading({ lot: 'L1', expiry: '2027-01-31', quantity: 25 }), syringe, null, line({}), line({}),
      { lot: 'L1', expiry: '2027-01-31', quantity: '25' }],
    ['keeps what was typed before any product was on the line', reading({ lot: 'L1' }), syringe, null, line({ quantity: '7', unitCost: '0.3' }), line({ quantity: '7', unitCost: '0.3' }),
      { lot: 'L1', quantity: '7', unitCost: '0.3' }],
    ['clears the previous product’s lot, expiry and quantity', reading({}), needle, syringe, line({ item: syringe, lot: 'L1', expiry: '2027-01-31', quantity: '40' }), line({ item: null, lot: 'L1', expiry: '2027-01-31', quantity: '40' }),
      { lot: '', expiry: '', quantity: '' }],
    ['keeps the same product’s fields when the barcode adds nothing new', reading({}), syringe, syringe, line({ item: syringe, lot: 'L1', quantity: '40' }), line({ item: syringe, lot: 'L1', quantity: '40' }),
      { lot: 'L1', quantity: '40' }],
    ['starts afresh for another lot of the same product', reading({ lot: 'L2' }), syringe, syringe, line({ item: syringe, lot: 'L1', expiry: '2027-01-31', quantity: '40' }), line({ item: syringe, lot: 'L1', expiry: '2027-01-31', quantity: '40' }),
      { lot: 'L2', expiry: '', quantity: '' }],
    ['keeps what the clerk typed while the scan was read', reading({}), needle, syringe, line({ item: syringe, lot: 'L1', quantity: '40' }), line({ item: syringe, lot: 'L1', quantity: '41' }),
      { lot: '', quantity: '41' }],
    ['receives one unit of a serial-tracked item', reading({ serial: 'SN1', quantity: 5 }), stent, null, line({}), line({}),
      { serial: 'SN1', quantity: '1' }],
  ])('%s', (_, scanned, scannedItem, product, before, current, expected) => {
    const next = lineFromScan(scanned, scannedItem, { line: before, product }, current);
    expect(next).toMatchObject({ code: scannedItem.code, item: scannedItem, ...expected });
  });
});

describe('the lot or serial an issue scan picks', () => {
  const choice = (lot: string | null, expiry: string | null, patch: Partial<LotChoice> = {}): LotChoice =>
    ({ lot, expiry, serial: null, quantity: 10, expired: false, ...patch });
  const choices = [choice('OLD', '2026-11-01', { expired: true }), choice('A', '2026-12-10'), choice('B', '2027-02-14'), choice('C', '2027-02-14'), choice('NOEXP', null)];
  const pick = (scanned: Partial<ScanReading>, serialized = false, list = choices) =>
    pickFromScan(t, reading(scanned), item('SYR', serialized), 'Syringe', list, 'MAIN');

  it.each([
    [{ lot: 'A' }, 'A', 'success'],
    [{ lot: 'B' }, 'B', 'warning'],
    [{ lot: 'NOEXP' }, 'NOEXP', 'warning'],
    [{ lot: 'OLD' }, '', 'failure'],
    [{ lot: 'GONE' }, '', 'failure'],
    [{}, '', 'success'],
  ])('%j picks lot %j (%s)', (scanned, lot, outcome) => {
    expect(pick(scanned)).toMatchObject({ lot, serial: '', outcome });
  });

  it('does not warn for a lot that expires the same day as the suggestion', () => {
    const sameDay = [choice('B', '2027-02-14'), choice('C', '2027-02-14')];
    expect(pick({ lot: 'C' }, false, sameDay).outcome).toBe('success');
  });

  it('names the earlier lot and its expiry in the warning', () => {
    expect(pick({ lot: 'B' }).message).toBe('Lot B is not the FEFO choice: Lot A expires first (2026-12-10). Go on only if you mean to issue this one; otherwise choose the suggested lot.');
  });

  it('picks serials among serial choices only, matching the lot when the barcode has one', () => {
    const serials = [choice('A', '2027-01-01', { serial: 'S1', quantity: 1 }), choice('B', '2027-06-01', { serial: 'S2', quantity: 1 })];
    expect(pick({ serial: 'S1' }, true, serials)).toMatchObject({ serial: 'S1', lot: '', outcome: 'success' });
    expect(pick({ serial: 'S2' }, true, serials)).toMatchObject({ serial: 'S2', outcome: 'warning' });
    expect(pick({ serial: 'S2', lot: 'A' }, true, serials)).toMatchObject({ serial: '', outcome: 'failure' });
  });
});
