import { describe, expect, it } from 'vitest';
import type { DocumentLineView } from './bindings/DocumentLineView';
import type { DocumentView } from './bindings/DocumentView';
import type { PrinterView } from './bindings/PrinterView';
import { dictionaries } from './i18n';
import { PRINTING_EN, PRINTING_ZH } from './printingText';
import {
  canPrint, defaultPrinter, formatBytes, formOf, jobError, labelLines, labelRequests, NEW_PRINTER, parseCopies, setupOf,
} from './printingRules';

const line = (line_no: number, patch: Partial<DocumentLineView>): DocumentLineView => ({
  line_no, item: '09506000134352', item_name: '注射器', item_name_en: 'Syringe', lot: 'L1', expiry: '2029-01-31', serial: null,
  quantity: 10, unit_cost: null, ...patch,
});

const receipt = (lines: DocumentLineView[]): DocumentView => ({
  id: 'doc-1', number: 'RK-S01-000001', kind: 'receipt', status: 'posted', location: 'MAIN', to_location: null, department: null,
  supplier: null, created_by: 'wangli', posted_by: 'wangli', posted_at: '2026-11-25T08:00:00Z', reason: null, note: '', lines, movements: [],
});

const printer = (name: string, language: 'zpl' | 'tspl' | 'escpos' | 'pdf'): PrinterView => ({
  name, uri: 'tcp://10.0.0.1:9100',
  setup: { name, language, connection: { kind: 'tcp', host: '10.0.0.1', port: 9100 }, label_width_mm: 60, label_height_mm: 40, dpi: 203, paper: 80, symbology: 'data_matrix', font: null },
});

describe('which printer prints what', () => {
  it.each([
    ['zpl', true, false], ['tspl', true, false], ['pdf', true, true], ['escpos', false, true],
  ] as const)('%s: labels %s, documents %s', (language, labels, documents) => {
    expect(canPrint(language, 'labels')).toBe(labels);
    expect(canPrint(language, 'documents')).toBe(documents);
  });

  it('offers the printer used last for the purpose, else the first that can, never one that cannot', () => {
    const all = [printer('a4', 'pdf'), printer('receipt', 'escpos'), printer('zebra', 'zpl'), { name: 'broken', uri: 'x', setup: null }];
    expect(defaultPrinter(all, 'labels', 'zebra')).toBe('zebra');
    expect(defaultPrinter(all, 'labels', 'a4')).toBe('a4');
    // A label printer before a PDF printer for labels; a receipt printer is never offered for them.
    expect(defaultPrinter(all, 'labels', 'receipt')).toBe('zebra');
    expect(defaultPrinter(all, 'labels', 'broken')).toBe('zebra');
    expect(defaultPrinter([printer('a4', 'pdf'), printer('receipt', 'escpos')], 'labels', null)).toBe('a4');
    expect(defaultPrinter(all, 'documents', null)).toBe('a4');
    expect(defaultPrinter([printer('receipt', 'escpos'), printer('x4', 'pdf')], 'documents', null)).toBe('x4');
    expect(defaultPrinter(all, 'documents', 'receipt')).toBe('receipt');
    expect(defaultPrinter([printer('zebra', 'zpl')], 'documents', null)).toBe('');
  });
});

describe("a posted receipt's labels", () => {
  it('gives one label per serial unit and one per lot, a lot received on two lines once', () => {
    const rows = labelLines(receipt([
      line(1, { lot: 'L1', quantity: 40 }),
      line(2, { item: '06981205304251', lot: 'B7', serial: 'SN1', quantity: 1 }),
      line(3, { item: '06981205304251', lot: 'B7', serial: 'SN2', quantity: 1 }),
      line(4, { lot: 'L1', quantity: 5 }),
      line(5, { lot: null, expiry: null, quantity: 100 }),
    ]));
    expect(rows.map((r) => [r.line, r.lot, r.serial, r.copies])).toEqual([
      [1, 'L1', null, 1], [2, 'B7', 'SN1', 1], [3, 'B7', 'SN2', 1], [5, null, null, 1],
    ]);
    rows[0].copies = 4;
    rows[2].copies = 0;
    expect(labelRequests(rows)).toEqual([
      { item: '09506000134352', lot: 'L1', serial: null, copies: 4 },
      { item: '06981205304251', lot: 'B7', serial: 'SN1', copies: 1 },
      { item: '09506000134352', lot: null, serial: null, copies: 1 },
    ]);
  });

  it.each([
    ['0', 0], ['1', 1], [' 12 ', 12], ['5000', 5000], ['5001', null], ['-1', null], ['1.5', null], ['', null], ['abc', null], ['123456', null],
  ] as const)('copies %j → %s', (text, expected) => {
    expect(parseCopies(text)).toBe(expected);
  });
});

describe('the printer form', () => {
  it('makes the typed setup the core stores, and reads a stored one back into the same form', () => {
    const form = { ...NEW_PRINTER, name: ' zebra1 ', host: ' 192.168.1.50 ', port: '9100', width: '100', height: '50,5', dpi: '300', symbology: 'both' as const, font: ' ' };
    const made = setupOf(form);
    expect(made.problems).toBeNull();
    expect(made.setup).toEqual({
      name: 'zebra1', language: 'zpl', connection: { kind: 'tcp', host: '192.168.1.50', port: 9100 }, label_width_mm: 100,
      label_height_mm: 50.5, dpi: 300, paper: 80, symbology: 'both', font: null,
    });
    const back = formOf({ name: 'zebra1', uri: 'tcp://192.168.1.50:9100', setup: made.setup });
    expect(setupOf(back).setup).toEqual(made.setup);
    const serial = setupOf({ ...NEW_PRINTER, name: '小票1', language: 'escpos', connection: 'serial', serialPort: 'COM3', baud: '19200', flow: 'hardware', paper: '58' });
    expect(serial.setup?.connection).toEqual({ kind: 'serial', port: 'COM3', baud: 19200, flow: 'hardware' });
    expect(serial.setup?.paper).toBe(58);
    expect(formOf({ name: 'old', uri: '?', setup: null })).toEqual({ ...NEW_PRINTER, name: 'old' });
  });

  it.each([
    [{ name: '' }, 'name', 'printerNameInvalid'],
    [{ name: 'zebra 1' }, 'name', 'printerNameInvalid'],
    [{ name: 'z'.repeat(41) }, 'name', 'printerNameInvalid'],
    [{ host: ' ' }, 'host', 'printerHostRequired'],
    [{ port: '0' }, 'port', 'printerPortInvalid'],
    [{ port: '65536' }, 'port', 'printerPortInvalid'],
    [{ port: '91OO' }, 'port', 'printerPortInvalid'],
    [{ connection: 'cups' as const, queue: '' }, 'queue', 'printerQueueRequired'],
    [{ connection: 'serial' as const, serialPort: '' }, 'serialPort', 'printerSerialRequired'],
    [{ width: '14.9' }, 'width', 'labelSizeInvalid'],
    [{ height: '251' }, 'height', 'labelSizeInvalid'],
    [{ height: '' }, 'height', 'labelSizeInvalid'],
  ])('%j is refused at %s', (patch, field, text) => {
    const made = setupOf({ ...NEW_PRINTER, name: 'zebra1', host: '10.0.0.9', ...patch });
    expect(made.setup).toBeNull();
    expect(made.problems).toEqual({ [field]: text });
  });
});

describe("a failed job's error", () => {
  it('splits the stored "[code] message" into its code and its plain words', () => {
    expect(jobError('[printer_refused] 打印机 127.0.0.1:9 拒绝连接：打印机可能未开机。')).toEqual({ code: 'printer_refused', message: '打印机 127.0.0.1:9 拒绝连接：打印机可能未开机。' });
    expect(jobError('something else')).toEqual({ code: 'unknown', message: 'something else' });
    expect(jobError(null)).toBeNull();
  });

  it.each([[0, '0 B'], [1023, '1023 B'], [1536, '1.5 KB'], [3 * 1024 * 1024, '3.0 MB']])('%d bytes read %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('printing words', () => {
  it('exist in both languages, none empty, and are in the dictionaries', () => {
    expect(Object.keys(PRINTING_EN).sort()).toEqual(Object.keys(PRINTING_ZH).sort());
    for (const [key, text] of [...Object.entries(PRINTING_ZH), ...Object.entries(PRINTING_EN)]) expect(text.trim(), key).not.toBe('');
    expect(dictionaries.zh.printLabels).toBe('打印标签');
    expect(dictionaries.en.printLabels).toBe('Print labels');
  });
});
