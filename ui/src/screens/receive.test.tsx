import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import { openScreen, rowsOf, signedIn } from '../test/render';

const value = (testId: string) => (screen.getByTestId(testId) as HTMLInputElement).value;

describe('receive screen', () => {
  it('receives a delivery line: scan, Enter, fill, post, see the number; the next line starts clean', async () => {
    const { user, backend } = await signedIn('wangli');
    await openScreen(user, 'receive');
    await waitFor(() => expect(value('receive-location')).toBe('MAIN'));
    expect(document.activeElement).toBe(screen.getByTestId('receive-location'));
    await user.selectOptions(screen.getByTestId('receive-supplier'), 'SUP01');
    // A scanner types an EAN-13 and Enter into the item field: read as a scan,
    // the item resolves to its code and focus moves on to the lot.
    await user.click(screen.getByTestId('receive-item'));
    await user.keyboard('9506000134352{Enter}');
    expect((await screen.findByTestId('receive-item-name')).textContent).toContain('一次性使用无菌注射器');
    expect(value('receive-item')).toBe('09506000134352');
    expect(backend.calls.filter((c) => c.command === 'parse_barcode').map((c) => c.args)).toEqual([{ data: '9506000134352' }]);
    expect(screen.getByTestId('scan-feedback').dataset.outcome).toBe('success');
    expect(screen.getByTestId('receive-item-name').textContent).toContain('5ml 带针');
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('receive-lot')));
    await user.keyboard('NEW1');
    await user.type(screen.getByTestId('receive-expiry'), '2029-05-31');
    await user.type(screen.getByTestId('receive-production-date'), '2026-05-01');
    await user.type(screen.getByTestId('receive-qty'), '25');
    await user.type(screen.getByTestId('receive-unit-cost'), '0.36{Enter}');

    const banner = await screen.findByTestId('receive-result');
    expect(banner.textContent).toContain('入库单 RK-S01-000001 已过账');
    expect(rowsOf('posted-line').map((r) => [r.dataset.lot, r.dataset.quantity])).toEqual([['NEW1', '25']]);
    const sent = backend.calls.find((c) => c.command === 'post_document')!.args as { request: unknown };
    expect(sent.request).toEqual({
      kind: 'receipt', user: '', location: 'MAIN', to_location: null, department: null, supplier: 'SUP01',
      lines: [{ item: '09506000134352', lot: 'NEW1', expiry: '2029-05-31', production_date: '2026-05-01', serial: null, quantity: 25, unit_cost: '0.36' }],
      note: '', override: null,
    });
    // Line fields reset, the document header stays, focus is back on the item for the next line.
    for (const id of ['receive-item', 'receive-lot', 'receive-expiry', 'receive-production-date', 'receive-qty', 'receive-unit-cost']) expect(value(id)).toBe('');
    expect(value('receive-location')).toBe('MAIN');
    expect(value('receive-supplier')).toBe('SUP01');
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('receive-item')));

    await openScreen(user, 'stock');
    await waitFor(() => expect(rowsOf('stock-row').some((r) => r.dataset.lot === 'NEW1' && r.dataset.quantity === '25')).toBe(true));
  });

  it('checks dates and quantity before asking the core', async () => {
    const { user, backend } = await signedIn('alice');
    await openScreen(user, 'receive');
    await user.type(screen.getByTestId('receive-item'), '09506000134352');
    await user.type(screen.getByTestId('receive-lot'), 'X1');
    await user.type(screen.getByTestId('receive-expiry'), '2029-02-30');
    await user.type(screen.getByTestId('receive-qty'), '-2');
    await user.click(screen.getByTestId('receive-submit'));
    expect(await screen.findByText('Dates are real YYYY-MM-DD dates')).toBeTruthy();
    expect(screen.getByText('The quantity must be a whole number above zero')).toBeTruthy();
    expect(screen.queryByTestId('receive-result')).toBeNull();
    expect(backend.calls.some((c) => c.command === 'post_document')).toBe(false);
  });

  it('warns about a short-dated lot without blocking, and shows the core refusing an expired one', async () => {
    const { user } = await signedIn('alice');
    await openScreen(user, 'receive');
    await user.type(screen.getByTestId('receive-item'), '09506000134352{Enter}');
    await user.type(screen.getByTestId('receive-lot'), 'SHORT');
    await user.type(screen.getByTestId('receive-expiry'), '2027-01-10');
    expect(screen.getByTestId('receive-expiry-warning').textContent).toBe('Note: this lot expires in 46 days (within 90 days).');
    await user.type(screen.getByTestId('receive-qty'), '5{Enter}');
    expect((await screen.findByTestId('receive-result')).textContent).toContain('Receipt RK-S01-000001 posted');

    await user.type(screen.getByTestId('receive-item'), '09506000134352');
    await user.type(screen.getByTestId('receive-lot'), 'OLD');
    await user.type(screen.getByTestId('receive-expiry'), '2026-10-01');
    expect(screen.getByTestId('receive-expiry-warning').textContent).toContain('expired');
    await user.type(screen.getByTestId('receive-qty'), '5{Enter}');
    const banner = await screen.findByTestId('error-banner');
    expect(banner.dataset.code).toBe('lot_expired');
    expect(banner.textContent).toContain('Lot OLD expired on 2026-10-01');
    await user.click(screen.getByTestId('error-dismiss'));
    expect(screen.queryByTestId('error-banner')).toBeNull();
  });

  it('shows an unknown code inline and offers close matches to pick', async () => {
    const { user } = await signedIn('alice');
    await openScreen(user, 'receive');
    await user.type(screen.getByTestId('receive-item'), 'stent{Enter}');
    const problem = await screen.findByTestId('receive-item-error');
    expect(problem.dataset.code).toBe('unknown_item');
    expect(problem.textContent).toContain('No item has the code stent');
    await user.click(await screen.findByTestId('receive-item-suggestion-06981205304251'));
    expect(value('receive-item')).toBe('06981205304251');
    // A serial-tracked item: the serial field appears and the quantity is fixed at 1.
    expect(screen.getByTestId('receive-serial')).toBeTruthy();
    expect(value('receive-qty')).toBe('1');
    expect((screen.getByTestId('receive-qty') as HTMLInputElement).readOnly).toBe(true);
  });
});
