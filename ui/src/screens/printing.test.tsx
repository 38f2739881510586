import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { openScreen, rowsOf, signedIn } from '../test/render';

const value = (testId: string) => (screen.getByTestId(testId) as HTMLInputElement).value;

// jsdom has no blob URLs: each preview gets a numbered one, and what it was made of is kept.
const blobs: Blob[] = [];
beforeEach(() => {
  blobs.length = 0;
  URL.createObjectURL = vi.fn((blob: Blob) => { blobs.push(blob); return `blob:test/${blobs.length}`; });
  URL.revokeObjectURL = vi.fn();
  window.localStorage.clear();
});
afterEach(() => { vi.restoreAllMocks(); });

async function postReceipt(user: Awaited<ReturnType<typeof signedIn>>['user'], item: string, fields: { lot: string; expiry: string; serial?: string; quantity?: string }) {
  await openScreen(user, 'receive');
  await waitFor(() => expect(value('receive-location')).toBe('MAIN'));
  await user.type(screen.getByTestId('receive-item'), `${item}{Enter}`);
  await screen.findByTestId('receive-item-name');
  await user.type(screen.getByTestId('receive-lot'), fields.lot);
  await user.type(screen.getByTestId('receive-expiry'), fields.expiry);
  if (fields.serial) await user.type(screen.getByTestId('receive-serial'), fields.serial);
  if (fields.quantity) await user.type(screen.getByTestId('receive-qty'), fields.quantity);
  await user.click(screen.getByTestId('receive-submit'));
  return screen.findByTestId('receive-result');
}

describe('printing a posted receipt', () => {
  it('prints its labels in one action: counts editable, a label previewed, the outcome followed', async () => {
    const { user, backend } = await signedIn('alice');
    await postReceipt(user, '09506000134352', { lot: 'NEW7', expiry: '2029-05-31', quantity: '40' });
    // The clerk carries on with the next line: the focus is back on the item field.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('receive-item')));

    await user.keyboard('{Alt>}l{/Alt}');
    const panel = await screen.findByTestId('labels-panel');
    expect(rowsOf('label-line').map((r) => [r.dataset.lot, r.dataset.serial])).toEqual([['NEW7', '']]);
    expect(value('label-copies-0')).toBe('1');
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('label-copies-0')));
    // One label previewed as a PNG, laid out for the printer offered first: the label printer.
    expect(value('label-printer')).toBe('zebra1');
    await user.selectOptions(screen.getByTestId('label-printer'), 'a4-office');
    await waitFor(() => expect(backend.calls.filter((c) => c.command === 'preview_label').at(-1)!.args).toMatchObject({ printer: 'a4-office' }));
    await user.selectOptions(screen.getByTestId('label-printer'), 'zebra1');
    await waitFor(() => expect(screen.getByTestId('label-preview-image').getAttribute('src')).toMatch(/^blob:test\//));
    expect(blobs[blobs.length - 1].type).toBe('image/png');
    expect(backend.calls.filter((c) => c.command === 'preview_label').at(-1)!.args).toEqual({
      label: { item: '09506000134352', lot: 'NEW7', serial: null, copies: 1 }, printer: 'zebra1',
    });
    // Only label-capable printers are offered.
    expect([...(screen.getByTestId('label-printer') as HTMLSelectElement).options].map((o) => o.value)).toEqual(['a4-office', 'zebra1']);

    await user.clear(screen.getByTestId('label-copies-0'));
    await user.type(screen.getByTestId('label-copies-0'), '4');
    expect(within(panel).getByTestId('labels-print').textContent).toBe('Print 4 labels');
    await user.keyboard('{Enter}');
    const notice = await screen.findByTestId('labels-job');
    expect(backend.calls.find((c) => c.command === 'print_labels')!.args).toEqual({
      request: { printer: 'zebra1', document: 'RK-S01-000001', labels: [{ item: '09506000134352', lot: 'NEW7', serial: null, copies: 4 }] },
    });
    await waitFor(() => expect(screen.getByTestId('labels-job').dataset.status).toBe('sent'));
    expect(notice.isConnected).toBe(true);
    expect(screen.getByTestId('labels-job').textContent).toContain('Printed on zebra1: RK-S01-000001: 4 × 09506000134352 NEW7');
    // Printed, the focus goes back where the clerk scans.
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('receive-item')));
    // The printer is remembered for the next receipt.
    expect(window.localStorage.getItem('medledger.printer.labels')).toBe('zebra1');
  });

  it('gives a serial-tracked unit its own label and refuses a count that is not a whole number', async () => {
    const { user } = await signedIn('alice');
    await postReceipt(user, '06981205304251', { lot: 'B77', expiry: '2030-01-31', serial: 'SN-NEW-1' });
    await user.click(screen.getByTestId('print-labels'));
    expect(rowsOf('label-line').map((r) => [r.dataset.lot, r.dataset.serial])).toEqual([['B77', 'SN-NEW-1']]);
    await user.clear(screen.getByTestId('label-copies-0'));
    await user.type(screen.getByTestId('label-copies-0'), '1.5');
    expect(screen.getByText('A whole number from 0 to 5,000')).toBeTruthy();
    expect((screen.getByTestId('labels-print') as HTMLButtonElement).disabled).toBe(true);
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('labels-panel')).toBeNull();
  });

  it('shows the A4 PDF on screen and prints the document to a chosen printer', async () => {
    const { user, backend } = await signedIn('alice');
    await postReceipt(user, '09506000134352', { lot: 'NEW8', expiry: '2029-05-31', quantity: '10' });
    await user.click(screen.getByTestId('preview-document'));
    const frame = await screen.findByTestId('pdf-frame');
    expect(frame.getAttribute('src')).toMatch(/^blob:test\//);
    expect(blobs[blobs.length - 1].type).toBe('application/pdf');
    expect(new TextDecoder().decode(new Uint8Array(await blobs[blobs.length - 1].arrayBuffer()))).toContain('RK-S01-000001');
    expect(document.activeElement).toBe(screen.getByTestId('pdf-preview-close'));
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('pdf-preview')).toBeNull();

    expect([...(screen.getByTestId('document-printer') as HTMLSelectElement).options].map((o) => o.value)).toEqual(['a4-office', 'receipt80']);
    await user.selectOptions(screen.getByTestId('document-printer'), 'receipt80');
    await user.click(screen.getByTestId('print-document'));
    await waitFor(() => expect(screen.getByTestId('document-job').dataset.status).toBe('sent'));
    expect(backend.calls.find((c) => c.command === 'print_document')!.args).toEqual({ document: 'RK-S01-000001', printer: 'receipt80' });
  });

  it('follows a job whose news never arrived by looking it up', async () => {
    const { user, backend } = await signedIn('alice');
    // As if the job's event came before the screen listened: no event reaches the screen at all.
    backend.onPrintJob = () => () => undefined;
    await postReceipt(user, '09506000134352', { lot: 'NEW10', expiry: '2029-05-31', quantity: '10' });
    await user.click(screen.getByTestId('print-document'));
    expect((await screen.findByTestId('document-job')).dataset.status).toBe('sending');
    await waitFor(() => expect(screen.getByTestId('document-job').dataset.status).toBe('sent'), { timeout: 4000 });
  });

  it('says plainly when printing failed, and the queue retries it on another printer', async () => {
    const { user, backend } = await signedIn('zhaoqiang');
    backend.printing.seed({
      name: 'zebra-off', language: 'zpl', connection: { kind: 'tcp', host: '10.9.9.9', port: 9101 }, label_width_mm: 60, label_height_mm: 40,
      dpi: 203, paper: 80, symbology: 'data_matrix', font: null,
    });
    await postReceipt(user, '09506000134352', { lot: 'NEW9', expiry: '2029-05-31', quantity: '10' });
    await user.click(screen.getByTestId('print-labels'));
    await user.selectOptions(await screen.findByTestId('label-printer'), 'zebra-off');
    await user.click(screen.getByTestId('labels-print'));
    await waitFor(() => expect(screen.getByTestId('labels-job').dataset.status).toBe('failed'));
    expect(screen.getByTestId('labels-job').dataset.code).toBe('printer_refused');
    expect(screen.getByTestId('labels-job').textContent).toContain('打印机 10.9.9.9:9101 拒绝连接');

    await user.keyboard('{Alt>}7{/Alt}');
    await waitFor(() => expect(rowsOf('print-job-row')).toHaveLength(1));
    const row = rowsOf('print-job-row')[0];
    expect([row.dataset.status, row.dataset.printer]).toEqual(['failed', 'zebra-off']);
    expect(within(row).getByTestId('print-job-error').textContent).toContain('拒绝连接');
    // Only a printer of the same language can take the kept bytes.
    expect([...(within(row).getByTestId('print-job-target') as HTMLSelectElement).options].map((o) => o.value)).toEqual(['zebra1']);
    await user.click(within(row).getByTestId('print-job-send'));
    await waitFor(() => expect(screen.getByTestId('queue-empty')).toBeTruthy());
    await user.click(screen.getByTestId('queue-all'));
    await waitFor(() => expect(rowsOf('print-job-row').map((r) => [r.dataset.status, r.dataset.printer])).toEqual([['sent', 'zebra1']]));
  });
});

describe('the printers screen', () => {
  it('lets a manager add a printer with its connection and label size, checking the form first', async () => {
    const { user, backend } = await signedIn('zhaoqiang');
    await user.click(screen.getByTestId('lang-toggle'));
    await openScreen(user, 'printers');
    await waitFor(() => expect(rowsOf('printer-row').map((r) => r.dataset.name)).toEqual(['a4-office', 'receipt80', 'zebra1']));
    await user.click(screen.getByTestId('printer-add'));
    expect(document.activeElement).toBe(screen.getByTestId('printer-name'));
    await user.type(screen.getByTestId('printer-name'), 'tsc-2f');
    await user.selectOptions(screen.getByTestId('printer-language'), 'tspl');
    await user.clear(screen.getByTestId('printer-width'));
    await user.type(screen.getByTestId('printer-width'), '100');
    await user.click(screen.getByTestId('printer-save'));
    expect(screen.getByText("Enter the printer's address")).toBeTruthy();
    expect(backend.calls.some((c) => c.command === 'set_printer')).toBe(false);
    await user.type(screen.getByTestId('printer-host'), '192.168.2.40{Enter}');
    expect((await screen.findByTestId('printer-saved')).textContent).toBe('Printer tsc-2f saved.');
    expect(backend.calls.find((c) => c.command === 'set_printer')!.args).toEqual({
      setup: {
        name: 'tsc-2f', language: 'tspl', connection: { kind: 'tcp', host: '192.168.2.40', port: 9100 }, label_width_mm: 100,
        label_height_mm: 40, dpi: 203, paper: 80, symbology: 'data_matrix', font: null,
      },
    });
    const row = (await waitFor(() => rowsOf('printer-row').find((r) => r.dataset.name === 'tsc-2f')!))!;
    expect(row.textContent).toContain('tcp://192.168.2.40:9100');
    expect(row.textContent).toContain('100×40 mm, 203 dpi');

    // Editing keeps the name; the core's refusal shows in the form.
    await user.click(screen.getByTestId('printer-edit-tsc-2f'));
    expect((screen.getByTestId('printer-name') as HTMLInputElement).readOnly).toBe(true);
    expect(value('printer-host')).toBe('192.168.2.40');
    await user.clear(screen.getByTestId('printer-host'));
    await user.type(screen.getByTestId('printer-host'), 'bad host{Enter}');
    expect((await screen.findByTestId('printer-error')).dataset.code).toBe('bad_printer_uri');
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('printer-form')).toBeNull();
  });

  it('shows a clerk the printers without the means to change them', async () => {
    const { user } = await signedIn('alice');
    await openScreen(user, 'printers');
    expect(await screen.findByTestId('printers-read-only')).toBeTruthy();
    expect(screen.queryByTestId('printer-add')).toBeNull();
    await waitFor(() => expect(rowsOf('printer-row')).toHaveLength(3));
    expect(screen.queryByTestId('printer-edit-zebra1')).toBeNull();
    expect(screen.getByTestId('queue-empty').textContent).toBe('No waiting or failed print jobs.');
  });

  it('cancels a job that waits', async () => {
    const { user, backend } = await signedIn('alice');
    backend.printing.seed({
      name: 'off', language: 'pdf', connection: { kind: 'tcp', host: '10.9.9.9', port: 631 }, label_width_mm: 60, label_height_mm: 40,
      dpi: 203, paper: 80, symbology: 'data_matrix', font: null,
    });
    const posted = await backend.postDocument({
      kind: 'receipt', user: '', location: 'MAIN', to_location: null, department: null, supplier: null, note: '', override: null,
      lines: [{ item: '09506000134352', lot: 'C1', expiry: '2029-01-31', production_date: null, serial: null, quantity: 1, unit_cost: null }],
    });
    const job = await backend.printDocument(posted.number!, 'off');
    await waitFor(async () => expect((await backend.printJobs(false))[0].status).toBe('failed'));
    await openScreen(user, 'printers');
    const row = await waitFor(() => rowsOf('print-job-row').find((r) => r.dataset.id === job.id)!);
    expect(row.dataset.status).toBe('failed');
    fireEvent.click(within(row).getByTestId('print-job-cancel'));
    await waitFor(() => expect(screen.getByTestId('queue-empty')).toBeTruthy());
    expect((await backend.printJobs(true))[0].status).toBe('cancelled');
  });
});

describe('documents on the movements screen', () => {
  it('opens a posted document from its number: the PDF, with a printer to print it on', async () => {
    const { user, backend } = await signedIn('alice');
    await backend.postDocument({
      kind: 'receipt', user: '', location: 'MAIN', to_location: null, department: null, supplier: null, note: '', override: null,
      lines: [{ item: '09506000134352', lot: 'M1', expiry: '2029-01-31', production_date: null, serial: null, quantity: 2, unit_cost: null }],
    });
    await openScreen(user, 'movements');
    await waitFor(() => expect(rowsOf('movement-document')[0]?.textContent).toBe('RK-S01-000001'));
    await user.click(rowsOf('movement-document')[0]);
    expect((await screen.findByTestId('pdf-frame')).getAttribute('src')).toMatch(/^blob:test\//);
    await user.click(await screen.findByTestId('print-document'));
    await waitFor(() => expect(screen.getByTestId('document-job').dataset.status).toBe('sent'));
    expect(backend.calls.find((c) => c.command === 'print_document')!.args).toMatchObject({ printer: 'a4-office' });
    await user.click(screen.getByTestId('pdf-preview-close'));
    expect(screen.queryByTestId('pdf-preview')).toBeNull();
  });
});
