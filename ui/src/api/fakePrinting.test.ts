// The printing fake imitates src-tauri/src/printing.rs and the ledger's
// queue closely enough that screen tests mean something; these pin it.
import { beforeEach, describe, expect, it } from 'vitest';
import type { PrinterSetup } from '../bindings/PrinterSetup';
import type { PrintJobRow } from '../bindings/PrintJobRow';
import { FakeBackend } from './fake';
import { blankLabelPng } from './fakePrinting';

const SYRINGE = '09506000134352';

const setup = (patch: Partial<PrinterSetup> = {}): PrinterSetup => ({
  name: 'zebra2', language: 'zpl', connection: { kind: 'tcp', host: '10.1.1.9', port: 9100 }, label_width_mm: 60, label_height_mm: 40,
  dpi: 203, paper: 80, symbology: 'data_matrix', font: null, ...patch,
});

let backend: FakeBackend;
beforeEach(() => { backend = new FakeBackend({ user: 'zhaoqiang' }); });

async function receipt(): Promise<string> {
  const posted = await backend.postDocument({
    kind: 'receipt', user: '', location: 'MAIN', to_location: null, department: null, supplier: null, note: '', override: null,
    lines: [{ item: SYRINGE, lot: 'P1', expiry: '2029-01-31', production_date: null, serial: null, quantity: 10, unit_cost: null }],
  });
  return posted.number!;
}

/** The next finished attempt the app would announce. */
function nextOutcome(): Promise<PrintJobRow> {
  return new Promise((resolve) => { const stop = backend.onPrintJob((job) => { stop(); resolve(job); }); });
}

describe('printers in the fake', () => {
  it('stores a printer with its URI as the core does, and lists them by name', async () => {
    const cases: [PrinterSetup, string][] = [
      [setup(), 'tcp://10.1.1.9:9100'],
      [setup({ name: 'tsc', language: 'tspl', connection: { kind: 'cups', queue: 'TSC_TE244' } }), 'cups://TSC_TE244'],
      [setup({ name: 'pos', language: 'escpos', connection: { kind: 'serial', port: '/dev/ttyUSB0', baud: 19200, flow: 'hardware' } }), 'serial:///dev/ttyUSB0?baud=19200&flow=hardware'],
    ];
    for (const [wanted, uri] of cases) expect((await backend.setPrinter(wanted)).uri).toBe(uri);
    expect((await backend.listPrinters()).map((p) => p.name)).toEqual(['a4-office', 'pos', 'receipt80', 'tsc', 'zebra1', 'zebra2']);
  });

  it.each([
    [setup({ connection: { kind: 'tcp', host: 'bad host', port: 9100 } }), 'bad_printer_uri'],
    [setup({ connection: { kind: 'tcp', host: '10.1.1.9', port: 0 } }), 'bad_printer_uri'],
    [setup({ connection: { kind: 'serial', port: '/dev/ttyS0', baud: 1234, flow: 'none' } }), 'bad_printer_uri'],
    [setup({ dpi: 250 }), 'bad_profile'],
    [setup({ label_width_mm: 5 }), 'bad_profile'],
    [setup({ name: 'zebra 2' }), 'invalid_input'],
  ])('refuses %j with %s', async (wanted, code) => {
    await expect(backend.setPrinter(wanted)).rejects.toMatchObject({ code });
  });

  it('lets only those who may edit master data set printers', async () => {
    backend.user = backend.users.find((u) => u.username === 'wangli')!;
    await expect(backend.setPrinter(setup())).rejects.toMatchObject({ code: 'forbidden' });
  });
});

describe('print jobs in the fake', () => {
  it('queues labels at once and sends them on a later turn, announcing the outcome', async () => {
    const number = await receipt();
    const outcome = nextOutcome();
    const queued = await backend.printLabels({ printer: 'zebra1', document: number, labels: [{ item: SYRINGE, lot: 'P1', serial: null, copies: 3 }] });
    expect([queued.status, queued.sending, queued.description]).toEqual(['queued', true, `${number}: 3 × ${SYRINGE} P1`]);
    const sent = await outcome;
    expect([sent.id, sent.status, sent.attempts, sent.sending]).toEqual([queued.id, 'sent', 1, false]);
    expect(await backend.printJobs(false)).toEqual([]);
    expect((await backend.printJobs(true)).map((j) => j.status)).toEqual(['sent']);
  });

  it('keeps a refused job failed with its error; it can be sent elsewhere, not cancelled while sending', async () => {
    const number = await receipt();
    await backend.setPrinter(setup({ name: 'offline', connection: { kind: 'tcp', host: '10.1.1.9', port: 9101 } }));
    let outcome = nextOutcome();
    const queued = await backend.printLabels({ printer: 'offline', document: number, labels: [{ item: SYRINGE, lot: 'P1', serial: null, copies: 1 }] });
    await expect(backend.cancelPrintJob(queued.id)).rejects.toMatchObject({ code: 'print_job_sending' });
    const failed = await outcome;
    expect([failed.status, failed.attempts]).toEqual(['failed', 1]);
    expect(failed.last_error).toMatch(/^\[printer_refused\] /);
    // Not to a printer of another language: the kept bytes are ZPL.
    await expect(backend.retryPrintJob(failed.id, 'a4-office')).rejects.toMatchObject({ code: 'invalid_input' });
    outcome = nextOutcome();
    const moved = await backend.retryPrintJob(failed.id, 'zebra1');
    expect([moved.printer, moved.sending]).toEqual(['zebra1', true]);
    expect([(await outcome).status, (await backend.printJobs(true))[0].attempts]).toEqual(['sent', 2]);
    await expect(backend.retryPrintJob(failed.id, null)).rejects.toMatchObject({ code: 'unknown_print_job' });
  });

  it.each([
    [{ printer: 'nobody', labels: [{ item: SYRINGE, lot: 'P1', serial: null, copies: 1 }] }, 'unknown_printer'],
    [{ printer: 'zebra1', labels: [{ item: SYRINGE, lot: 'P1', serial: null, copies: 0 }] }, 'no_labels'],
    [{ printer: 'zebra1', labels: [{ item: SYRINGE, lot: 'P1', serial: null, copies: 5001 }] }, 'too_many_labels'],
    [{ printer: 'zebra1', labels: [{ item: 'NOPE', lot: null, serial: null, copies: 1 }] }, 'unknown_item'],
    [{ printer: 'receipt80', labels: [{ item: SYRINGE, lot: 'P1', serial: null, copies: 1 }] }, 'unsupported_output'],
  ])('refuses labels %j with %s and queues nothing', async (request, code) => {
    await expect(backend.printLabels({ document: null, ...request })).rejects.toMatchObject({ code });
    expect(await backend.printJobs(true)).toEqual([]);
  });

  it('prints documents on PDF and receipt printers only', async () => {
    const number = await receipt();
    await expect(backend.printDocument(number, 'zebra1')).rejects.toMatchObject({ code: 'unsupported_output' });
    await expect(backend.printDocument('RK-S01-999999', 'a4-office')).rejects.toMatchObject({ code: 'unknown_document' });
    expect((await backend.printDocument(number, 'a4-office')).description).toBe(number);
    expect((await backend.printDocument(number, 'receipt80')).kind).toBe('document');
  });
});

describe('previews in the fake', () => {
  const size = (png: Uint8Array) => {
    const view = new DataView(png.buffer, png.byteOffset);
    return [view.getUint32(16), view.getUint32(20)];
  };

  it("draws a label PNG at the printer's dot size and a one-page PDF of the document", async () => {
    const png = await backend.previewLabel({ item: SYRINGE, lot: 'L2402', serial: null, copies: 1 }, null);
    expect([...png.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(size(png)).toEqual([480, 320]);
    await backend.setPrinter(setup({ name: 'big', label_width_mm: 100, label_height_mm: 50, dpi: 300 }));
    expect(size(await backend.previewLabel({ item: SYRINGE, lot: 'L2402', serial: null, copies: 1 }, 'big'))).toEqual([1181, 591]);
    const number = await receipt();
    const pdf = new TextDecoder().decode(await backend.previewDocument(number));
    expect(pdf.startsWith('%PDF-1.4')).toBe(true);
    expect(pdf).toContain(number);
    expect(pdf.trimEnd().endsWith('%%EOF')).toBe(true);
    const xref = Number(/startxref\n(\d+)/.exec(pdf)![1]);
    expect(pdf.slice(xref, xref + 4)).toBe('xref');
  });

  it('writes PNG chunks whose lengths add up', () => {
    const png = blankLabelPng(300, 300);
    let at = 8;
    const types: string[] = [];
    const view = new DataView(png.buffer);
    while (at < png.length) {
      const length = view.getUint32(at);
      types.push(String.fromCharCode(...png.slice(at + 4, at + 8)));
      at += 12 + length;
    }
    expect(at).toBe(png.length);
    expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
  });
});
