// The fake's GS1 reader against what the real engine answers for the same
// text (each expectation was taken from `medledger barcode parse`), and the
// fake backend's parse_barcode / add_item around it.
import { describe, expect, it } from 'vitest';
import { FakeBackend } from './fake';
import { BarcodeError, gs1CheckDigit, gs1Date, readBarcode } from './fakeBarcode';

const TODAY = '2026-11-25';
const SYRINGE = '09506000134352';

function read(data: string) {
  const { reading, candidates, symbology } = readBarcode(data, TODAY, 'en');
  return {
    symbology, di: reading.di, lot: reading.lot, serial: reading.serial, expiry: reading.expiry,
    production: reading.production_date, quantity: reading.quantity, warnings: reading.warnings.map((w) => w.code),
    candidates: candidates.map((c) => [c.lot, c.serial, c.expiry]),
  };
}

function refusal(data: string): string {
  try {
    readBarcode(data, TODAY, 'en');
  } catch (error) {
    if (error instanceof BarcodeError) return error.code;
    throw error;
  }
  throw new Error(`${JSON.stringify(data)} was read`);
}

const nothing = { symbology: null, lot: null, serial: null, expiry: null, production: null, quantity: null, warnings: [], candidates: [] };

describe('the fake GS1 reader (checked against crates/udi)', () => {
  it.each([
    [']d20109506000134352172701311012345', { ...nothing, symbology: ']d2', di: SYRINGE, lot: '12345', expiry: '2027-01-31' }],
    ['9506000134352', { ...nothing, di: SYRINGE }],
    ['(01)09506000134352(17)270131(10)ABC', { ...nothing, di: SYRINGE, lot: 'ABC', expiry: '2027-01-31' }],
    ['010950600013435210AB17270131\u001d21X', { ...nothing, di: SYRINGE, lot: 'AB17270131', serial: 'X' }],
    ['0109506000134352\u001d10AB', { ...nothing, di: SYRINGE, lot: 'AB' }],
    ['0109506000134352172701311012', { ...nothing, di: SYRINGE, lot: '12', expiry: '2027-01-31' }],
    ['(01)09506000134352(10)AB(30)12', { ...nothing, di: SYRINGE, lot: 'AB', quantity: 12 }],
    ['0109506000134352300110AB', { ...nothing, di: SYRINGE, lot: 'AB', quantity: 1, warnings: ['separator_missing'] }],
    ['010950600013435217270100101234521SN1', { ...nothing, di: SYRINGE, lot: '1234521SN1', expiry: '2027-01-31', warnings: ['day_zero'] }],
    ['0109506000134352112605011727013121SN7\r\n', { ...nothing, di: SYRINGE, serial: 'SN7', expiry: '2027-01-31', production: '2026-05-01' }],
  ])('reads %j', (data, expected) => {
    expect(read(data)).toEqual(expected);
  });

  it('returns every reading of a barcode whose separators were lost, top level holding only what they agree on', () => {
    expect(read(']d2010950600013435210AB17270131')).toEqual({
      ...nothing, symbology: ']d2', di: SYRINGE, warnings: ['ambiguous'],
      candidates: [['AB', null, '2027-01-31'], ['AB17270131', null, null]],
    });
    expect(read('010950600013435210AB1727013121X').candidates).toEqual([['AB', 'X', '2027-01-31'], ['AB1727013121X', null, null]]);
  });

  it.each([
    ['SYR-5ML', 'unknown_format'],
    ['11270100', 'bad_check_digit'],
    ['0109506000134353', 'bad_check_digit'],
    ['0109506000134352171302311', 'bad_date'],
    ['01095060001343', 'truncated'],
    ['0109506000134352179', 'truncated'],
    ['010950600013435205AB', 'unknown_ai'],
    ['   ', 'empty'],
    ['0109506000134352\u001d10A\u001d10B', 'conflicting_duplicate'],
  ])('refuses %j with %s', (data, code) => {
    expect(refusal(data)).toBe(code);
  });

  it('computes check digits and GS1 dates with the century window', () => {
    expect(gs1CheckDigit('0950600013435')).toBe(2);
    expect(gs1CheckDigit('690123456789')).toBe(2);
    expect(gs1Date('761231', TODAY)).toEqual({ date: '2076-12-31', dayZero: false });
    expect(gs1Date('771231', TODAY)).toEqual({ date: '1977-12-31', dayZero: false });
    expect(gs1Date('280200', TODAY)).toEqual({ date: '2028-02-29', dayZero: true });
    expect(gs1Date('270230', TODAY)).toBeNull();
  });
});

describe('FakeBackend.parseBarcode and addItem', () => {
  it('finds the item of a scan, leaves an unknown one null, and reads a known plain code as its item', async () => {
    const backend = new FakeBackend({ user: 'alice' });
    const scan = await backend.parseBarcode(']C1010950600013435210L9');
    expect([scan.scheme, scan.item?.code, scan.reading.lot]).toEqual(['gs1', SYRINGE, 'L9']);
    expect((await backend.parseBarcode('06901234567892')).item).toBeNull();
    const plain = await backend.parseBarcode('+H724STENT2518Q\n');
    expect([plain.scheme, plain.reading.di, plain.item?.code]).toEqual(['item_code', '+H724STENT2518Q', '06981205304251']);
  });

  it('rejects an unreadable scan with the engine code and a message in the session language', async () => {
    const backend = new FakeBackend({ user: 'wangli', language: 'zh' });
    await expect(backend.parseBarcode('NOPE-123')).rejects.toMatchObject({ code: 'unknown_format', message: expect.stringContaining('无法识别的条码') });
  });

  it('lets a manager, not a clerk, create an item that scans then find', async () => {
    const backend = new FakeBackend({ user: 'wangli' });
    const item = {
      code: '06901234567892', name: '测试品规', name_en: 'Test item', specification: '', manufacturer: '', registration_no: '',
      risk_class: '', category: '', unit: '个', pack_size: 1, serialized: false, implantable: false, cold_chain: false,
      min_temp_c: null, max_temp_c: null, unit_price: null, default_supplier: null, reorder_point: 0, extra_identifiers: [],
    };
    await expect(backend.addItem(item)).rejects.toMatchObject({ code: 'forbidden' });
    expect((await backend.appInfo()).may_edit_master_data).toBe(false);
    await backend.chooseUser('zhaoqiang');
    expect((await backend.appInfo()).may_edit_master_data).toBe(true);
    await expect(backend.addItem({ ...item, cold_chain: true })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(backend.addItem({ ...item, code: '06901234567891' })).rejects.toMatchObject({ code: 'invalid_input' });
    const created = await backend.addItem(item);
    expect(created.gtin).toBe('06901234567892');
    await expect(backend.addItem(item)).rejects.toMatchObject({ code: 'duplicate_code' });
    expect((await backend.parseBarcode('(01)06901234567892(10)A')).item?.id).toBe(created.id);
  });
});
